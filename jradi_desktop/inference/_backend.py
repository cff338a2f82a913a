"""The backend contract, generation parameters and the registry of backends by name.

A backend owns one loaded model. Messages are OpenAI-style dicts; an image is a part
``{"type": "image"}`` in a message's content list, and the images themselves are passed
beside the messages, in the order of those parts (PIL images, or encoded PNG/JPEG bytes).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from jradi_desktop.inference._errors import (
    BackendUnavailableError,
    GenerationError,
    InvalidRequestError,
    UnknownBackendError,
    VisionNotSupportedError,
)

# The phases of the work before the first token, as progress reports name them.
ENCODE, PREFILL = "encode", "prefill"
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class Cancelled(Exception):  # a signal between two steps, never shown
    """Raised by :meth:`Backend.report_progress` once a generation is cancelled."""


if TYPE_CHECKING:
    from PIL import Image

    from jradi_desktop.models import ModelSpec

Message = Mapping[str, Any]
Messages = Sequence[Message]
Images = Sequence["Image.Image | bytes"]  # PIL images or encoded PNG/JPEG bytes


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings. ``temperature=0`` means greedy decoding (``top_p`` and ``seed`` are
    then unused). JRadiEvo's report settings are the defaults: 256 new tokens, greedy,
    repetition penalty 1.0."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    repeat_penalty: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repeat_penalty <= 0:
            raise ValueError(f"repeat_penalty must be > 0, got {self.repeat_penalty}")
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(ABC):
    """One loaded model that streams text.

    Contract: ``__init__(spec)`` loads the model (raising an :class:`InferenceError` that
    names the file and the reason); :meth:`generate` is called by one thread at a time and
    yields text pieces as they are produced; :meth:`cancel` may be called from any other
    thread and stops the running generation before its next piece (the iterator then simply
    ends, with :attr:`finish_reason` ``"cancelled"``); :meth:`close` frees the model and may be
    called any number of times. A backend is not shared between processes. Subclasses
    implement :meth:`_generate` (the checks and the one-at-a-time lock are :meth:`generate`'s)
    and :meth:`close`.
    """

    name: ClassVar[str] = ""
    #: Importable modules the backend needs, and the pip extra that installs them.
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""

    device = "cpu"  # where the model runs: "cpu", "cuda" or "gpu" (set by the backend)
    runtime = ""  # what runs it, in words (the GGUF backend: llama.cpp's CPU variant and AMX)

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.progress: Progress | None = None  # told each step before the first token
        self.finish_reason: str | None = None  # "stop", "length" or "cancelled" once done
        self.generated_tokens = 0  # tokens of the last reply (so far)
        self._cancel = threading.Event()
        self._busy = threading.Lock()
        self._closed = False

    @property
    def has_vision(self) -> bool:
        """Whether the loaded model takes images."""
        return False

    def generate(
        self,
        messages: Messages,
        images: Images = (),
        params: GenerationParams | None = None,
        on_progress: Progress | None = None,
    ) -> Iterator[str]:
        """Stream the reply to ``messages`` as text pieces: the request is checked and the
        model taken (one generation at a time) before :meth:`_generate` runs. ``on_progress``
        (or :attr:`progress`) hears each step of the work before the first token."""
        params = params or GenerationParams()
        check_images(messages, images)
        with self._taken(images, on_progress):
            yield from self._generate(messages, images, params)

    def read_ahead(
        self, messages: Messages, images: Images = (), on_progress: Progress | None = None
    ) -> None:
        """Do now what a later :meth:`generate` of a prompt that starts as ``messages`` does
        will keep (a report's image encoded and its positions evaluated while the clinician
        still looks at it), so that its first token comes sooner. Taken, cancelled and
        reported like :meth:`generate`; a backend that keeps nothing between prompts, or a
        model without vision asked about images, does nothing."""
        check_images(messages, images)
        if images and not self.has_vision:
            return
        with self._taken(images, on_progress):
            self._read_ahead(messages, images)
            self.finish_reason = "stop"

    @contextlib.contextmanager
    def _taken(self, images: Images, on_progress: Progress | None) -> Iterator[None]:
        """The model held for one request (checked and taken by :meth:`_begin`), with
        ``on_progress`` (or :attr:`progress`) hearing its steps; a :class:`Cancelled` between
        two steps ends it as ``"cancelled"``."""
        self._begin(images)
        hook = self.progress
        if on_progress is not None:
            self.progress = on_progress
        try:
            yield
        except Cancelled:  # stopped between two steps before the first token
            self.finish_reason = "cancelled"
        finally:
            self.progress = hook
            self._busy.release()

    def _read_ahead(self, messages: Messages, images: Images) -> None:  # noqa: B027
        """What :meth:`read_ahead` does: nothing, unless the backend keeps a prompt's work."""

    def report_progress(self, phase: str, done: int, total: int) -> None:
        """Tell :attr:`progress` that ``done`` of ``total`` steps of ``phase`` (``ENCODE``:
        image crops through the vision trunk; ``PREFILL``: prompt positions into the model)
        are done; raises :class:`Cancelled` once the generation was cancelled, so a long
        phase stops at its next step."""
        if self._cancel.is_set():
            raise Cancelled
        if self.progress is not None:
            self.progress(phase, done, total)

    @abstractmethod
    def _generate(
        self, messages: Messages, images: Images, params: GenerationParams
    ) -> Iterator[str]:
        """The reply's pieces; sets :attr:`finish_reason` and :attr:`generated_tokens`."""

    def cancel(self) -> None:
        """Stop the running generation before its next piece (thread-safe, non-blocking)."""
        self._cancel.set()

    @abstractmethod
    def close(self) -> None:
        """Free the model (idempotent)."""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this backend cannot run here (a missing module), or None when it can."""
        for module in cls.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return f"{module} ({cls.install_hint})"
        return None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers for subclasses -------------------------------------------------------------

    def _begin(self, images: Images) -> None:
        """Take the generation lock and check the request (``generate`` releases it)."""
        if self._closed:
            raise InvalidRequestError(
                f"モデル「{self.spec.name}」は既に閉じられています。",
                f'Model "{self.spec.name}" has been closed.',
            )
        if not self._busy.acquire(blocking=False):
            raise InvalidRequestError(
                f"モデル「{self.spec.name}」は別の生成を実行中です。終わるか中止してから"
                "実行してください。",
                f'Model "{self.spec.name}" is already generating; wait for it or cancel it.',
            )
        self._cancel.clear()
        self.finish_reason = None
        self.generated_tokens = 0
        if images and not self.has_vision:
            self._busy.release()
            raise VisionNotSupportedError(
                f"モデル「{self.spec.name}」は画像を扱えません（ビジョンエンコーダー"
                "（GGUF では mmproj）がありません）。画像対応のモデルを選んでください。",
                f'Model "{self.spec.name}" cannot read images (it has no vision encoder; '
                "for GGUF, no mmproj file). Choose a vision-language model.",
            )

    def _generation_error(self, exc: Exception) -> GenerationError:
        """What the user sees when the library fails while generating."""
        return GenerationError(
            f"モデル「{self.spec.name}」で生成中にエラーが起きました：{exc}",
            f'Generation with model "{self.spec.name}" failed: {exc}',
        )

    def check_logits(self, finite: bool) -> None:
        """Raise :class:`GenerationError` when a step's logits were not all ``finite`` (each
        backend tests its own array where it lives: numpy, or torch on the GPU): NaN or Inf
        weights (or an overflow) would otherwise decode as an empty or meaningless reply."""
        if not finite:
            raise GenerationError(
                f"モデル「{self.spec.name}」（{self.spec.path}）の出力（logits）に有限でない値"
                "（NaN/Inf）が出ました。重みが壊れています。モデルを書き出し直すか入手し直して"
                "ください。",
                f'Model "{self.spec.name}" ({self.spec.path}) produced logits that are not '
                "finite (NaN/Inf): its weights are damaged. Export or copy the model again.",
            )

    def _cancel_and_wait(self, timeout: float = 5.0) -> None:
        """For ``close``: stop a generation running in another thread and wait (up to
        ``timeout``) until it has left the model, so native memory is not freed under it."""
        self._closed = True
        self._cancel.set()
        if self._busy.acquire(timeout=timeout):
            self._busy.release()


def count_image_parts(messages: Messages) -> int:
    """Number of ``{"type": "image"}`` parts in the messages."""
    return sum(
        1
        for message in messages
        if not isinstance(message.get("content"), str)
        for part in message.get("content") or ()
        if part.get("type") == "image"
    )


def check_images(messages: Messages, images: Sequence[object]) -> None:
    """Raise :class:`InvalidRequestError` unless each image part has exactly one image."""
    n_parts = count_image_parts(messages)
    if n_parts != len(images):
        raise InvalidRequestError(
            f"画像の数（{len(images)}）がメッセージ中の画像の位置の数（{n_parts}）と一致しません。",
            f"{len(images)} image(s) given but the messages have {n_parts} image part(s); "
            'give one image per {"type": "image"} part.',
        )


def text_of(content: str | Sequence[Mapping[str, Any]] | None) -> str:
    """The text of a message's content (string, or the text parts of a list, joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


class StopFilter:
    """Holds back streamed text that may be the start of a stop string; cuts at a stop.

    ``push(piece)`` returns the text safe to show now; :attr:`stopped` turns true once a stop
    string appeared (the stop string and what follows are never shown); ``flush()`` returns
    the rest at the end.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._pending = ""
        self.stopped = False

    def push(self, piece: str) -> str:
        if not self._stops:
            return piece
        text = self._pending + piece
        cut = min((i for i in (text.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped, self._pending = True, ""
            return text[:cut]
        hold = max(
            (k for s in self._stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0
        )
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return "" if self.stopped else rest


# -- registry --------------------------------------------------------------------------------

# name -> "module:Class", imported on first use so the registry costs nothing to import.
_REGISTRY: dict[str, str | type[Backend]] = {
    "gguf": "jradi_desktop.inference._gguf:GGUFBackend",
    "hf": "jradi_desktop.inference._hf:HFBackend",
}


def register_backend(name: str, backend: str | type[Backend]) -> None:
    """Register a backend class (or its ``"module:Class"`` path) under ``name``."""
    _REGISTRY[name] = backend


def backend_names() -> tuple[str, ...]:
    """The registered backend names, sorted."""
    return tuple(sorted(_REGISTRY))


def get_backend(name: str) -> type[Backend]:
    """The backend class registered under ``name``; the error lists the valid names."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        valid = ", ".join(backend_names())
        raise UnknownBackendError(
            f"推論バックエンド「{name}」はありません。使えるのは {valid} です。",
            f"Unknown inference backend {name!r}. Valid names: {valid}.",
        ) from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _REGISTRY[name] = entry
    return entry


def create_backend(spec: ModelSpec) -> Backend:
    """Load ``spec`` with the backend of its kind (``gguf`` or ``hf``)."""
    cls = get_backend(spec.kind)
    reason = cls.unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(
            f"「{spec.kind}」形式のモデルを動かすライブラリがインストールされていません：{reason}",
            f"The library needed to run {spec.kind!r} models is not installed: {reason}",
        )
    return cls(spec)
