"""The inference exception family: every message in Japanese and English, naming the value.

The UI catches :class:`InferenceError` and shows :meth:`~jradi_desktop.errors.JRadiError.message`
in the user's language. All of them pickle (``JRadiError.__reduce__``), so an error raised in
the worker process reaches the GUI with its class and attributes intact.
"""

from __future__ import annotations

import signal
from pathlib import Path

from jradi_desktop.errors import JRadiError


class InferenceError(JRadiError):
    """Base of the inference errors."""


class ModelFileNotFoundError(InferenceError):
    """A model file (GGUF, mmproj or Hugging Face folder) does not exist."""

    path: str = ""

    @classmethod
    def for_path(cls, path: str | Path, what_ja: str, what_en: str) -> ModelFileNotFoundError:
        err = cls(
            f"{what_ja}「{path}」が見つかりません。モデル管理でファイルの場所を確認してください。",
            f'{what_en} not found: "{path}". Check the file location in the model manager.',
        )
        err.path = str(path)
        return err


class ModelLoadError(InferenceError):
    """The file exists but the backend could not load it (corrupt, wrong format, no memory)."""

    path: str = ""


class BackendUnavailableError(InferenceError):
    """The library a backend needs is not installed."""


class UnknownBackendError(InferenceError, KeyError):
    """No backend is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return JRadiError.__str__(self)


class VisionNotSupportedError(InferenceError):
    """Images were given to a model without a vision encoder."""


class InvalidRequestError(InferenceError):
    """The request itself is wrong: image count, message shape, busy backend, closed backend."""


class PromptTooLongError(InvalidRequestError):
    """The prompt (text plus image tokens) does not fit the model's context."""


class GenerationError(InferenceError):
    """The backend failed while generating."""


class WorkerCrashedError(InferenceError):
    """The worker process died (native crash, kill, out of memory).

    ``exitcode`` is the process's exit status (negative: killed by that signal); ``log_path``
    the worker's log (kept after a crash), ``log_tail`` its last lines.
    """

    exitcode: int | None = None
    log_path: str = ""
    log_tail: str = ""

    @classmethod
    def from_exit(
        cls, exitcode: int | None, *, loading: bool, log_path: str = "", log_tail: str = ""
    ) -> WorkerCrashedError:
        if exitcode is not None and exitcode < 0:
            try:
                name = signal.Signals(-exitcode).name
            except ValueError:
                name = f"signal {-exitcode}"
            how_ja, how_en = f"シグナル {name} で強制終了", f"was killed by {name}"
        else:
            how_ja, how_en = f"終了コード {exitcode}", f"exited with code {exitcode}"
        when_ja = "モデルの読み込み中に" if loading else "生成中に"
        when_en = "while loading the model" if loading else "while generating"
        hint_oom = (
            " (SIGKILL usually means the system ran out of memory)"
            if exitcode == -signal.SIGKILL
            else ""
        )
        log_ja = f" 詳細はログ「{log_path}」にあります。" if log_path else ""
        log_en = f' Details are in the log "{log_path}".' if log_path else ""
        err = cls(
            f"推論プロセスが{when_ja}予期せず終了しました（{how_ja}）。入力した文章は失われて"
            "いません。もう一度実行すると推論プロセスは自動的に再起動します。繰り返す場合は、"
            "より小さい量子化のモデルを選ぶか、GPU に載せる層の数やコンテキスト長を減らして"
            f"ください。{log_ja}",
            f"The inference process {how_en} {when_en}{hint_oom}. Your text is kept. Run again"
            " and the process restarts automatically; if it keeps happening, choose a smaller"
            f" quantisation, fewer GPU layers or a shorter context.{log_en}",
        )
        err.exitcode = exitcode
        err.log_path, err.log_tail = log_path, log_tail
        return err
