"""The model registry: what a model is, checks, memory estimate."""

from jradi_desktop.models._check import (
    GGUF_ARCHITECTURES,
    ModelCheck,
    ModelCheckError,
    check_model,
)
from jradi_desktop.models._registry import ModelRegistry, default_registry_path, resolve_model
from jradi_desktop.models._spec import TEMPLATES, ModelKind, ModelSpec

__all__ = [
    "GGUF_ARCHITECTURES",
    "TEMPLATES",
    "ModelCheck",
    "ModelCheckError",
    "ModelKind",
    "ModelRegistry",
    "ModelSpec",
    "check_model",
    "default_registry_path",
    "resolve_model",
]
