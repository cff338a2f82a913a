"""Checks and a memory estimate for a model before anything is loaded.

Reads GGUF headers with the ``gguf`` package (memory-mapped, no weights read) and HF folders'
``config.json``, so adding a model in the app is instant even for an 8B file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jradi_desktop.errors import JRadiError
from jradi_desktop.models._spec import TEMPLATES, ModelSpec

# Text architectures the GGUF backend is tested with (llama) or known to load in llama.cpp.
GGUF_ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3")
GIB = 1024**3


class ModelCheckError(JRadiError):
    """A model that cannot be used, with every reason found."""


@dataclass
class ModelCheck:
    """What was learned about a model: its shape, an estimate of the memory it needs, warnings."""

    architecture: str = ""
    embedding_length: int = 0
    layers: int = 0
    kv_heads: int = 0
    head_dim: int = 0
    weights_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def kv_cache_bytes(self, context: int, bytes_per_value: int = 2) -> int:
        return 2 * self.layers * context * self.kv_heads * self.head_dim * bytes_per_value

    def memory_bytes(self, context: int) -> int:
        """Weights + KV cache (f16) + ~10% and 256 MiB for compute buffers."""
        total = self.weights_bytes + self.kv_cache_bytes(context)
        return int(total * 1.1) + 256 * 1024**2

    def memory_text(self, context: int) -> str:
        return f"{self.memory_bytes(context) / GIB:.1f} GiB"


def _field(reader: Any, key: str) -> Any:
    entry = reader.fields.get(key)
    return entry.contents() if entry is not None else None


def _read_gguf(path: Path, problems: list[tuple[str, str]]) -> Any:
    import gguf

    try:
        return gguf.GGUFReader(path)
    except Exception as exc:
        problems.append(
            (
                f"{path}: GGUF ヘッダーを読めません（{exc}）。",
                f"{path}: the GGUF header cannot be read ({exc}).",
            )
        )
        return None


def _check_gguf(spec: ModelSpec, check: ModelCheck, problems: list[tuple[str, str]]) -> None:
    reader = _read_gguf(spec.path, problems)
    if reader is None:
        return
    arch = _field(reader, "general.architecture") or ""
    check.architecture = arch
    if arch not in GGUF_ARCHITECTURES:
        problems.append(
            (
                f"{spec.path}: アーキテクチャ {arch!r} には対応していません"
                f"（対応: {', '.join(GGUF_ARCHITECTURES)}）。",
                f"{spec.path}: architecture {arch!r} is not supported "
                f"(supported: {', '.join(GGUF_ARCHITECTURES)}).",
            )
        )
        return
    check.embedding_length = int(_field(reader, f"{arch}.embedding_length") or 0)
    check.layers = int(_field(reader, f"{arch}.block_count") or 0)
    heads = int(_field(reader, f"{arch}.attention.head_count") or 1)
    check.kv_heads = int(_field(reader, f"{arch}.attention.head_count_kv") or heads)
    check.head_dim = int(
        _field(reader, f"{arch}.attention.key_length") or check.embedding_length // heads
    )
    check.weights_bytes = spec.path.stat().st_size
    if spec.mmproj is None:
        return
    if not spec.mmproj.is_file():
        problems.append(
            (
                f"{spec.mmproj}: mmproj ファイルが見つかりません。",
                f"{spec.mmproj}: the mmproj file does not exist.",
            )
        )
        return
    projector = _read_gguf(spec.mmproj, problems)
    if projector is None:
        return
    if _field(projector, "general.architecture") != "clip":
        problems.append(
            (
                f"{spec.mmproj}: 画像エンコーダー（clip）の GGUF ではありません。",
                f"{spec.mmproj}: not a vision encoder GGUF (architecture 'clip' expected).",
            )
        )
        return
    projection = _field(projector, "clip.vision.projection_dim")
    if projection is None:
        last = [
            t for t in projector.tensors if t.name.startswith("mm.") and t.name.endswith("weight")
        ]
        projection = int(max(last, key=lambda t: t.name).shape[-1]) if last else 0
    if int(projection) != check.embedding_length:
        problems.append(
            (
                f"{spec.mmproj}: 射影の次元 {projection} がモデルの埋め込み次元 "
                f"{check.embedding_length} と一致しません。同じモデルの mmproj を選んでください。",
                f"{spec.mmproj}: projection size {projection} does not match the model's embedding "
                f"size {check.embedding_length}; choose the mmproj made for this model.",
            )
        )
    check.weights_bytes += spec.mmproj.stat().st_size


def _check_hf(spec: ModelSpec, check: ModelCheck, problems: list[tuple[str, str]]) -> None:
    folder = spec.path
    config_path = folder / "config.json"
    if not config_path.is_file():
        problems.append(
            (
                f"{folder}: config.json がありません。"
                "Hugging Face 形式のモデルフォルダーを選んでください。",
                f"{folder}: config.json is missing; choose a Hugging Face model folder.",
            )
        )
        return
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(
            (f"{config_path}: 読めません（{exc}）。", f"{config_path}: unreadable ({exc}).")
        )
        return
    text = config.get("text_config", config)
    check.architecture = config.get("model_type", "")
    check.embedding_length = int(text.get("hidden_size", 0))
    check.layers = int(text.get("num_hidden_layers", 0))
    heads = int(text.get("num_attention_heads", 1))
    check.kv_heads = int(text.get("num_key_value_heads") or heads)
    check.head_dim = int(text.get("head_dim") or check.embedding_length // max(heads, 1))
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        problems.append(
            (
                f"{folder}: safetensors 形式の重みがありません"
                "（pickle 形式は安全のため読み込みません）。",
                f"{folder}: no safetensors weights (pickle checkpoints are not loaded: unsafe).",
            )
        )
        return
    check.weights_bytes = sum(p.stat().st_size for p in weights)
    if config.get("auto_map") and not spec.allow_remote_code:
        check.warnings.append(
            "This model ships its own code (auto_map); it loads only with allow_remote_code."
        )


def check_model(spec: ModelSpec) -> ModelCheck:
    """Validate ``spec``'s files; raise ``ModelCheckError`` listing every problem found."""
    problems: list[tuple[str, str]] = []
    check = ModelCheck()
    path = Path(spec.path)
    if spec.template not in TEMPLATES:
        problems.append(
            (
                f"テンプレート {spec.template!r} は使えません（{', '.join(TEMPLATES)}）。",
                f"template {spec.template!r} is unknown (choose one of {', '.join(TEMPLATES)}).",
            )
        )
    if spec.kind == "gguf" and not path.is_file():
        problems.append(
            (f"{path}: GGUF ファイルが見つかりません。", f"{path}: GGUF file not found.")
        )
    elif spec.kind == "hf" and not path.is_dir():
        problems.append(
            (f"{path}: モデルフォルダーが見つかりません。", f"{path}: model folder not found.")
        )
    elif spec.kind == "gguf":
        _check_gguf(spec, check, problems)
    elif spec.kind == "hf":
        _check_hf(spec, check, problems)
    else:
        problems.append((f"種類 {spec.kind!r} は不明です。", f"unknown model kind {spec.kind!r}."))
    if problems:
        raise ModelCheckError("\n".join(p[0] for p in problems), "\n".join(p[1] for p in problems))
    return check
