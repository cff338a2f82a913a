"""Recipes and configs: YAML files validated by pydantic, every problem in one message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from engine.errors import EngineError
from jradi_desktop.contract import Limit

Model = TypeVar("Model", bound=BaseModel)


def read_yaml_mapping(path: Path, error: type[EngineError], kind: str, keys: str) -> dict[str, Any]:
    """The mapping in a YAML file; ``kind`` ("recipe", "config") and ``keys`` ("base:, …")
    name what the file should be in the message."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {kind} file not found.") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: not a readable YAML file ({exc}).") from exc
    if not isinstance(data, dict):
        article = "an" if kind[0] in "aeiouAEIOU" else "a"
        raise error(f"{path}: {article} {kind} is a YAML mapping ({keys}).")
    return data


def validate(model: type[Model], data: dict[str, Any], error: type[EngineError], where: str,
             kind: str) -> Model:  # fmt: skip
    """``model.model_validate(data)``, its errors as one ``error`` listing field: problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            location = ".".join(str(x) for x in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{location}: {message}" if location else message)
        raise error(f"{where}: invalid {kind}\n" + "\n".join(lines)) from None


def limited(limit: Limit[Any]) -> Any:
    """The pydantic ``Field`` of a contract number setting: its default and bounds."""
    return Field(limit.default, ge=limit.ge, gt=limit.gt, lt=limit.lt)
