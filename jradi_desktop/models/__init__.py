"""The model registry: what a model is, checks, memory estimate."""

from jradi_desktop.contract import find_mmproj
from jradi_desktop.models._check import (
    GGUF_ARCHITECTURES,
    ModelCheck,
    ModelCheckError,
    check_model,
)
from jradi_desktop.models._demo import (
    DEMO_CLI_NAME,
    DEMO_MARK,
    bundled_demo,
    bundled_demo_dir,
    is_demo,
    shown_name,
)
from jradi_desktop.models._folder import FolderProblem, folder_problems
from jradi_desktop.models._hf_config import ConfigError, HFConfig, read_hf_config
from jradi_desktop.models._registry import ModelRegistry, default_registry_path, resolve_model
from jradi_desktop.models._shapes import hf_shape_problems, safetensors_files, safetensors_shapes
from jradi_desktop.models._spec import TEMPLATES, ModelKind, ModelSpec, default_model_name

__all__ = [
    "DEMO_CLI_NAME",
    "DEMO_MARK",
    "GGUF_ARCHITECTURES",
    "TEMPLATES",
    "ConfigError",
    "FolderProblem",
    "HFConfig",
    "ModelCheck",
    "ModelCheckError",
    "ModelKind",
    "ModelRegistry",
    "ModelSpec",
    "bundled_demo",
    "bundled_demo_dir",
    "check_model",
    "default_model_name",
    "default_registry_path",
    "find_mmproj",
    "folder_problems",
    "hf_shape_problems",
    "is_demo",
    "read_hf_config",
    "resolve_model",
    "safetensors_files",
    "safetensors_shapes",
    "shown_name",
]
