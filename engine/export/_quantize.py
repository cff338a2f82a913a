"""Quantisation of a GGUF file through llama.cpp's own quantiser."""

from __future__ import annotations

from pathlib import Path

from engine.errors import ExportError
from jradi_desktop.contract import QUANT_TYPES


def quantize_gguf(source: Path, target: Path, qtype: str, threads: int = 0) -> Path:
    """Write ``target`` as the ``qtype`` quantisation of ``source`` (an f32/f16 GGUF)."""
    if qtype not in QUANT_TYPES:
        raise ExportError(f"quantisation {qtype!r} is not supported; choose one of {QUANT_TYPES}.")
    import llama_cpp
    from llama_cpp._logger import set_verbose

    set_verbose(False)  # the engine never prints: llama.cpp's per-tensor log is not ours to show
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}")
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(
        str(source).encode("utf-8"), str(target).encode("utf-8"), params
    )
    if status != 0 or not target.is_file():
        raise ExportError(f"{source}: llama.cpp could not quantise to {qtype} (status {status}).")
    return target
