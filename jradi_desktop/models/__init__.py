"""The model registry: what a model is, checks, memory estimate."""

from jradi_desktop.models._spec import TEMPLATES, ModelKind, ModelSpec

__all__ = ["TEMPLATES", "ModelKind", "ModelSpec"]
