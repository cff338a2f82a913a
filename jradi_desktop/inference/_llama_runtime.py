"""llama.cpp as this CPU needs it: the right CPU backend loaded, the AMX path kept off.

Two facts about the llama.cpp we ship (docs/adr/0011):

- **The installer's llama.cpp picks its CPU code at start.** It is built with
  ``GGML_BACKEND_DL`` and ``GGML_CPU_ALL_VARIANTS`` (``packaging/build_llama_cpp.sh``): one
  ``libggml-cpu-<family>.so`` per CPU family next to ``libllama.so``, of which
  ``ggml_backend_load_all_from_path`` loads the best the CPU can run. llama-cpp-python never
  calls it, so :func:`ensure_cpu_backend` does, before any model is loaded. A developer
  install (``pip install -e .``) compiles one native CPU backend into the libraries and needs
  nothing loaded.
- **llama.cpp's AMX kernels crash** (``ggml_backend_amx_mul_mat``, ggml-org/llama.cpp issue
  20824): every Q8_0 / Q4_K_M model segfaults in its first ``llama_decode`` on a Sapphire
  Rapids Xeon. They are reached through the CPU's "extra buffer types" (AMX and weight
  repacking), so where the loaded CPU backend reports ``AMX_INT8 = 1`` models are loaded with
  ``use_extra_bufts = False`` (:func:`load_llama`). Elsewhere the repacked kernels stay on.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jradi_desktop.inference._errors import ModelLoadError

__all__ = ["CpuBackend", "ensure_cpu_backend", "load_llama"]

_CPU_DEVICE = 0  # enum ggml_backend_dev_type: GGML_BACKEND_DEVICE_TYPE_CPU
_VARIANT = re.compile(r"libggml-cpu-([\w.]+)\.so")


class CpuBackend:
    """What llama.cpp runs on this CPU: its feature flags, and where they came from."""

    def __init__(self, variant: str | None, features: str) -> None:
        self.variant = variant  # "haswell", "sapphirerapids", ...; None: compiled in (native)
        self.features = features  # llama.cpp's system info, "CPU : SSE3 = 1 | AVX2 = 1 | ..."

    @property
    def has_amx(self) -> bool:
        """The CPU backend would use AMX kernels (``AMX_INT8 = 1`` in its system info)."""
        return re.search(r"\bAMX_INT8 = 1\b", self.features) is not None

    @property
    def use_extra_bufts(self) -> bool:
        """Whether models may use the extra buffer types (off where they lead to AMX)."""
        return not self.has_amx

    def describe(self) -> str:
        built = f"variant {self.variant}" if self.variant else "native build"
        amx = "AMX off (extra buffer types disabled)" if self.has_amx else "no AMX"
        return f"llama.cpp CPU backend: {built}, {amx}"


def _ggml() -> ctypes.CDLL:
    """The ggml library ``libllama`` uses. The wheel ships ``libggml.so`` and ``libggml.so.0``
    as two copies of one file; ``libllama`` loads the second (its soname), and a copy loaded
    under the other name would be a second library with its own, empty, backend registry."""
    folder = _library_folder()
    sonames = sorted(folder.glob("libggml.so.*"), key=lambda p: len(p.name))
    if sonames:
        lib = ctypes.CDLL(str(sonames[0]))
    else:  # Windows, macOS: one file
        import llama_cpp._ggml as ggml

        lib = ggml.libggml
    lib.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
    lib.ggml_backend_dev_by_type.restype = ctypes.c_void_p
    lib.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    lib.ggml_backend_load_all_from_path.restype = None
    return lib


def _library_folder() -> Path:
    import llama_cpp._ggml as ggml

    return Path(ggml.libggml_base_path)


def _loaded_variant() -> str | None:
    """The ``libggml-cpu-<family>.so`` this process has mapped, if any (Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/maps").read_text().splitlines():
            if match := _VARIANT.search(line):
                return match.group(1)
    return None


@functools.cache
def ensure_cpu_backend() -> CpuBackend:
    """Make sure llama.cpp has a CPU backend (loading the best variant where the build has
    several); raise :class:`ModelLoadError` naming the CPU when none can run here."""
    lib = _ggml()
    folder = _library_folder()
    if not lib.ggml_backend_dev_by_type(_CPU_DEVICE):
        lib.ggml_backend_load_all_from_path(str(folder).encode())
    if not lib.ggml_backend_dev_by_type(_CPU_DEVICE):
        variants = sorted(p.name for p in folder.glob("libggml-cpu*"))
        raise ModelLoadError(
            "この PC の CPU で動く llama.cpp の CPU 版が見つかりません（x86-64 の CPU が"
            f"必要です）。インストールが壊れている可能性があります。{folder}: "
            f"{', '.join(variants) or 'libggml-cpu-*.so がありません'}",
            "No llama.cpp CPU backend can run on this computer's processor (an x86-64 CPU is "
            f"needed); the installation may be damaged. {folder}: "
            f"{', '.join(variants) or 'no libggml-cpu-*.so'}",
        )
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return CpuBackend(_loaded_variant(), info)


@contextlib.contextmanager
def _model_params(use_extra_bufts: bool) -> Iterator[None]:
    """``llama_model_default_params`` with ``use_extra_bufts`` set, while a ``Llama`` is made.

    llama-cpp-python 0.3.36's ``Llama`` takes no argument for it: it builds its model
    parameters from this function, looked up on ``llama_cpp.llama_cpp`` at call time.
    """
    import llama_cpp.llama_cpp as bindings

    original = bindings.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = use_extra_bufts
        return params

    bindings.llama_model_default_params = defaults
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


def load_llama(
    model_path: str | Path, *, use_extra_bufts: bool | None = None, **kwargs: Any
) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)`` safe on this CPU: the CPU backend loaded
    and, where llama.cpp would take its AMX path, the extra buffer types off.
    ``use_extra_bufts`` overrides that choice (benchmarks measure both)."""
    from llama_cpp import Llama

    backend = ensure_cpu_backend()
    if use_extra_bufts is None:
        use_extra_bufts = backend.use_extra_bufts
    with _model_params(use_extra_bufts):
        return Llama(model_path=str(model_path), **kwargs)
