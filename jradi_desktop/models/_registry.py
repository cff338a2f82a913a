"""The user's models, stored as JSON in their data directory (written atomically)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from jradi_desktop.models._check import ModelCheckError, check_model
from jradi_desktop.models._spec import ModelSpec


def default_registry_path() -> Path:
    from platformdirs import user_data_dir

    override = os.environ.get("JRADI_DATA_DIR")
    base = Path(override) if override else Path(user_data_dir("JRadi", appauthor=False))
    return base / "models.json"


class ModelRegistry:
    """Named models and the default one. Every change is saved at once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_registry_path()
        self._models: dict[str, ModelSpec] = {}
        self.default: str | None = None
        if self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._models = {m["name"]: ModelSpec.from_json(m) for m in data.get("models", [])}
            self.default = data.get("default")

    def names(self) -> list[str]:
        return sorted(self._models)

    def get(self, name: str) -> ModelSpec:
        if name not in self._models:
            known = ", ".join(self.names()) or "（なし / none）"
            raise ModelCheckError(
                f"モデル {name!r} は登録されていません。登録済み: {known}",
                f"model {name!r} is not registered. Registered: {known}",
            )
        return self._models[name]

    def add(self, spec: ModelSpec, make_default: bool = False) -> None:
        """Check ``spec`` (raising ``ModelCheckError``), then store it."""
        check_model(spec)
        self._models[spec.name] = spec
        if make_default or self.default is None:
            self.default = spec.name
        self.save()

    def remove(self, name: str) -> None:
        self.get(name)
        del self._models[name]
        if self.default == name:
            self.default = next(iter(self.names()), None)
        self.save()

    def set_default(self, name: str) -> None:
        self.get(name)
        self.default = name
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"default": self.default, "models": [m.to_json() for m in self._models.values()]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".models-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
        os.replace(tmp, self.path)


def resolve_model(
    model: str, mmproj: str | None = None, registry: ModelRegistry | None = None
) -> ModelSpec:
    """MODEL as the CLI takes it: a GGUF file, a HF folder, or a registered name."""
    path = Path(model)
    if path.is_file() and path.suffix.lower() == ".gguf":
        projector = Path(mmproj) if mmproj else None
        if projector is None:  # the exporter writes mmproj.gguf beside model.gguf
            found = sorted(path.parent.glob("mmproj*.gguf"))
            projector = found[0] if found else None
        return ModelSpec(name=path.stem, kind="gguf", path=path, mmproj=projector)
    if path.is_dir():
        return ModelSpec(name=path.name, kind="hf", path=path)
    spec = (registry or ModelRegistry()).get(model)
    if mmproj:
        spec.mmproj = Path(mmproj)
    return spec
