"""One checked reader for a Hugging Face folder's ``config.json`` (stdlib only, no torch).

The app's model check, the GGUF exporter and the merge all read ``config.json`` here, so a file
that is not a JSON object or a field of the wrong type is refused with the same words
everywhere: the file, the field, the rule and the fix, never a ``KeyError`` or ``TypeError``.

``HFConfig`` is the parsed ``dict`` (so ``config.get(...)`` keeps working) with typed
accessors: ``cfg.size("hidden_size")`` is a positive integer or an error naming
``text_config.hidden_size`` in ``…/config.json``.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

from jradi_desktop.errors import JRadiError, build_error

_REQUIRED: Any = object()


class ConfigError(JRadiError):
    """A ``config.json`` that cannot be used: unreadable, not an object, or a bad field."""


class HFConfig(dict):
    """A ``config.json`` (or one of its sections) with checked, typed accessors.

    ``error`` is the exception class raised by the accessors: ``ConfigError`` by default, the
    engine passes its own (``ExportError``, ``MergeError``), which get the English message.
    """

    def __init__(
        self,
        data: dict[str, Any],
        path: Path,
        error: type[Exception] = ConfigError,
        prefix: str = "",
    ) -> None:
        super().__init__(data)
        self.path = Path(path)
        self.error = error
        self.prefix = prefix

    def _fail(self, key: str, problem_ja: str, problem_en: str, fix_ja: str, fix_en: str) -> Any:
        name = self.prefix + key
        raise build_error(
            self.error,
            f"{self.path}: 項目 {name} {problem_ja}。{fix_ja}",
            f"{self.path}: field {name} {problem_en}; {fix_en}",
        )

    def _present(self, key: str, default: Any, what_ja: str, what_en: str) -> bool:
        """Whether ``key`` has a value; an absent required one raises."""
        if self.get(key) is not None:
            return True
        if default is _REQUIRED:
            self._fail(
                key,
                "がありません",
                "is missing",
                f"{what_ja}を書いてください（Hugging Face 形式の config.json）。",
                f"it must be {what_en}; add it (a Hugging Face config.json).",
            )
        return False

    def _wrong(self, key: str, what_ja: str, what_en: str) -> Any:
        shown = json.dumps(self[key], ensure_ascii=False)
        return self._fail(
            key,
            f"の値 {shown} は{what_ja}ではありません",
            f"is {shown}",
            f"{what_ja}にしてください。",
            f"it must be {what_en}.",
        )

    def int(self, key: str, default: Any = _REQUIRED, minimum: builtins.int | None = None) -> Any:
        """An integer field (``true``, ``"64"`` and ``64.0`` are refused); ``default`` if absent."""
        what_ja = "整数" if minimum is None else f"{minimum} 以上の整数"
        what_en = "an integer" if minimum is None else f"an integer >= {minimum}"
        if not self._present(key, default, what_ja, what_en):
            return default
        value = self[key]
        if isinstance(value, bool) or not isinstance(value, builtins.int):
            return self._wrong(key, what_ja, what_en)
        if minimum is not None and value < minimum:
            return self._wrong(key, what_ja, what_en)
        return value

    def size(self, key: str, default: Any = _REQUIRED) -> Any:
        """A positive integer (a width, a count of layers or heads); ``default`` if absent."""
        return self.int(key, default, minimum=1)

    def float(self, key: str, default: Any = _REQUIRED) -> Any:
        """A number (an integer is accepted); ``default`` if absent."""
        if not self._present(key, default, "数値", "a number"):
            return default
        value = self[key]
        if isinstance(value, bool) or not isinstance(value, builtins.int | builtins.float):
            return self._wrong(key, "数値", "a number")
        return builtins.float(value)

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        """A string field; ``default`` if absent."""
        if not self._present(key, default, "文字列", "a string"):
            return default
        if not isinstance(self[key], builtins.str):
            return self._wrong(key, "文字列", "a string")
        return self[key]

    def section(self, key: str, default: Any = _REQUIRED) -> Any:
        """A nested object (``text_config``, ``vision_config``) as an ``HFConfig``."""
        what_ja, what_en = "オブジェクト（{…}）", "an object ({...})"
        if not self._present(key, default, what_ja, what_en):
            return default
        if not isinstance(self[key], dict):
            return self._wrong(key, what_ja, what_en)
        return HFConfig(self[key], self.path, self.error, f"{self.prefix}{key}.")

    def text_config(self) -> HFConfig:
        """The language model's section: ``text_config`` when there is one, else the top."""
        return self.section("text_config") if "text_config" in self else self


def read_hf_config(folder: str | Path, error: type[Exception] = ConfigError) -> HFConfig:
    """``folder``'s ``config.json`` as a checked ``HFConfig``; ``folder`` may also be a
    ``.json`` file of the same kind (``preprocessor_config.json``).

    Raises ``error`` (``ConfigError`` by default) when the file is missing, unreadable, not
    JSON or not a JSON object.
    """
    folder = Path(folder)
    path = folder / "config.json" if folder.is_dir() or folder.suffix != ".json" else folder
    if not path.is_file():
        raise build_error(
            error,
            f"{path.parent}: config.json がありません。Hugging Face 形式のモデルフォルダー"
            "（config.json と safetensors の重み）を選んでください。",
            f"{path.parent}: config.json is missing; choose a Hugging Face model folder "
            "(config.json + safetensors weights).",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are both
        raise build_error(
            error,
            f"{path}: JSON として読めません（{exc}）。"
            "モデルに付属の config.json に戻してください。",
            f"{path}: not readable as JSON ({exc}); restore the config.json that came with "
            "the model.",
        ) from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise build_error(
            error,
            f"{path}: 中身が JSON オブジェクト（{{…}}）ではなく {kind} です。モデルに付属の "
            "config.json に戻してください。",
            f"{path}: holds a JSON {kind}, not an object ({{...}}); restore the config.json "
            "that came with the model.",
        )
    return HFConfig(data, path, error)
