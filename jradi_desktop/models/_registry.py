"""The user's models, stored as JSON in their data directory.

Several processes may change the registry at once (two ``jradi models add`` in scripts, the app
and a terminal), so every change is a read-modify-write under an exclusive lock on
``models.json.lock`` beside the file: re-read ``models.json``, apply the one change, write a
temporary file in the same folder, fsync it and ``os.replace`` it over the old one. No change
is ever made to an in-memory copy that might be stale, and readers never see a half file.
Reads re-load the file when another process has replaced it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import find_mmproj
from jradi_desktop.file_lock import locked
from jradi_desktop.list_file import read_list_file
from jradi_desktop.models._check import ModelCheck, ModelCheckError, check_model
from jradi_desktop.models._spec import ModelSpec

LOCK_TIMEOUT_S = 60.0


def default_registry_path() -> Path:
    from jradi_desktop.data_folder import data_folder

    return data_folder() / "models.json"


@dataclass
class _State:
    models: dict[str, ModelSpec] = field(default_factory=dict)
    default: str | None = None

    def to_json(self) -> dict[str, Any]:
        models = [self.models[name].to_json() for name in sorted(self.models)]
        return {"default": self.default, "models": models}


def _held_too_long(lock_path: Path) -> ModelCheckError:
    return ModelCheckError(
        f"{lock_path}: 別のプログラムがモデル一覧を {LOCK_TIMEOUT_S:.0f} 秒以上ロックして"
        "います。そのプログラム（jradi やアプリ）を終了してからやり直してください。",
        f"{lock_path}: another program has held the model registry's lock for over "
        f"{LOCK_TIMEOUT_S:.0f} s; close it (jradi or the app) and try again.",
    )


def _read(path: Path) -> _State:
    data, specs = read_list_file(path, "models", ModelSpec.from_json, ModelCheckError,
                                 ("モデル一覧", "the model registry"),
                                 '{"default": …, "models": […]}')  # fmt: skip
    return _State(default=data.get("default"), models={spec.name: spec for spec in specs})


def _write(path: Path, state: _State) -> None:
    text = json.dumps(state.to_json(), ensure_ascii=False, indent=2)
    replace_atomically(path, text.encode("utf-8"))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ModelRegistry:
    """Named models and the default one. Every change is a locked read-modify-write."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_registry_path()
        self._state = _State()
        self._seen: tuple[int, int, int] | None = None
        self._current()

    def _current(self) -> _State:
        """The registry as on disk, re-read when another process has replaced the file."""
        signature = _signature(self.path)
        if signature != self._seen:
            self._state = _read(self.path)
            self._seen = signature
        return self._state

    def _change(self, apply: Callable[[_State], None]) -> None:
        with locked(self.path, LOCK_TIMEOUT_S, _held_too_long):
            state = _read(self.path)
            apply(state)
            _write(self.path, state)
            self._state, self._seen = state, _signature(self.path)

    @property
    def default(self) -> str | None:
        return self._current().default

    def names(self) -> list[str]:
        return sorted(self._current().models)

    def get(self, name: str) -> ModelSpec:
        return self._get(self._current(), name)

    def _get(self, state: _State, name: str) -> ModelSpec:
        if name not in state.models:
            known = ", ".join(sorted(state.models)) or "（なし / none）"
            raise ModelCheckError(
                f"モデル {name!r} は登録されていません。登録済み: {known}",
                f"model {name!r} is not registered. Registered: {known}",
            )
        return state.models[name]

    def add(self, spec: ModelSpec, make_default: bool = False, replace: bool = False) -> ModelCheck:
        """Check ``spec`` (raising ``ModelCheckError``), then store it; return the check.

        A name that is already registered is refused unless ``replace`` is true.
        """
        check = check_model(spec)

        def apply(state: _State) -> None:
            existing = state.models.get(spec.name)
            if existing is not None and not replace:
                raise ModelCheckError(
                    f"{self.path}: モデル名 {spec.name!r} は既に登録されています"
                    f"（{existing.path}）。別の名前を付けるか（jradi models add --name）、"
                    "置き換える場合は --replace を指定してください。",
                    f"{self.path}: a model named {spec.name!r} is already registered "
                    f"({existing.path}); choose another name (jradi models add --name), or "
                    "replace it (--replace).",
                )
            state.models[spec.name] = spec
            if make_default or state.default not in state.models:
                state.default = spec.name

        self._change(apply)
        return check

    def update(self, name: str, **settings: Any) -> ModelSpec:
        """Change settings (``context=8192``, ``template=…``) of the registered model ``name``.

        Only the given fields change, on the entry as it is on disk under the lock, so an edit
        never brings back an older copy of the entry. Returns the stored spec.
        """
        if "name" in settings:
            raise TypeError("update() cannot rename a model; remove and add it instead")
        updated: list[ModelSpec] = []

        def apply(state: _State) -> None:
            spec = dataclasses.replace(self._get(state, name), **settings)
            state.models[name] = spec
            updated.append(spec)

        self._change(apply)
        return updated[0]

    def remove(self, name: str) -> None:
        def apply(state: _State) -> None:
            self._get(state, name)
            del state.models[name]
            if state.default == name:
                state.default = min(state.models, default=None)

        self._change(apply)

    def set_default(self, name: str) -> None:
        def apply(state: _State) -> None:
            self._get(state, name)
            state.default = name

        self._change(apply)


def _is_path(model: str) -> bool:
    """``--model`` text that can only mean a file or folder, never a registered name."""
    return (
        os.sep in model
        or "/" in model
        or (os.altsep is not None and os.altsep in model)
        or model.startswith((".", "~"))
        or Path(model).is_absolute()
        or model.lower().endswith(".gguf")
    )


def resolve_model(
    model: str, mmproj: str | None = None, registry: ModelRegistry | None = None
) -> ModelSpec:
    """MODEL as the CLI takes it: a registered name, a GGUF file or a HF folder.

    A registered name wins over a file or folder of the same name in the current folder;
    write ``./demo`` (anything with a path separator, starting with ``.`` or ``~``, absolute,
    or ending in ``.gguf``) to mean the path.
    """
    if not _is_path(model):
        registry = registry or ModelRegistry()
        if model in registry.names() or not Path(model).exists():
            spec = registry.get(model)
            if mmproj:
                spec.mmproj = Path(mmproj)
            return spec
    path = Path(model).expanduser()
    if path.is_dir():
        return ModelSpec(name=path.name, kind="hf", path=path)
    if not path.is_file() or path.suffix.lower() != ".gguf":
        what_ja = "GGUF ファイルではありません" if path.is_file() else "見つかりません"
        what_en = "is not a GGUF file" if path.is_file() else "does not exist"
        raise ModelCheckError(
            f"{path}: {what_ja}。--model には登録名、.gguf ファイル、または Hugging Face 形式の"
            "モデルフォルダーを指定してください（jradi models list で登録名を確認）。",
            f"{path}: {what_en}. --model takes a registered name, a .gguf file or a Hugging "
            "Face model folder (jradi models list shows the names).",
        )
    projector = Path(mmproj) if mmproj else find_mmproj(path)
    return ModelSpec(name=path.stem, kind="gguf", path=path, mmproj=projector)
