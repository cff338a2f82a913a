"""Checks and a memory estimate for a model before anything is loaded.

Reads GGUF headers with the ``gguf`` package (memory-mapped, no weights read) and HF folders'
``config.json`` and safetensors headers, so adding a model in the app is instant even for an
8B file. Both kinds are checked against their own weights: a header or config that disagrees
with the tensors' shapes (another model's config, a truncated export) is refused here, not at
the first report. An HF folder's family (and so which tensor is which) is the architecture
registry's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jradi_desktop.architectures import Architecture, ArchitectureError, detect
from jradi_desktop.errors import JRadiError
from jradi_desktop.models._folder import folder_problems
from jradi_desktop.models._hf_config import ConfigError, HFConfig, read_hf_config
from jradi_desktop.models._shapes import (
    Problem,
    hf_shape_problems,
    safetensors_files,
    safetensors_shapes,
)
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


def _size_field(reader: Any, key: str, path: Path, problems: list[Problem]) -> int:
    """A positive integer from the GGUF header, or 0 with the problem noted."""
    value = _field(reader, key)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    problems.append(
        (
            f"{path}: ヘッダーの {key} が{'ありません' if value is None else f' {value!r} です'}"
            "（正の整数が必要）。書き出し直してください。",
            f"{path}: the header's {key} is {'missing' if value is None else repr(value)} "
            "(a positive integer is required); export the model again.",
        )
    )
    return 0


def _optional_int(reader: Any, key: str) -> int:
    """A positive integer from the header, else 0 (absent, or not a count: estimate only)."""
    value = _field(reader, key)
    if isinstance(value, list) and value:  # per-layer arrays (e.g. head_count_kv): the largest
        value = max(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _read_gguf(path: Path, problems: list[Problem]) -> Any:
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


def _tensor_shapes(reader: Any) -> dict[str, list[int]]:
    """Tensor shapes in GGUF order, row width first (``token_embd.weight``: [n_embd, n_vocab])."""
    return {t.name: [int(d) for d in t.shape] for t in reader.tensors}


def _gguf_width(
    path: Path, tensors: dict[str, list[int]], pattern: str, key: str, width: int, dim: int = 0
) -> list[Problem]:
    """Each tensor matching ``pattern`` is ``width`` wide along ``dim`` (header ``key``)."""
    problems = []
    for name, shape in tensors.items():
        if re.fullmatch(pattern, name) and shape and shape[dim] != width:
            problems.append(
                (
                    f"{path}: テンソル {name} の形 {shape}（GGUF の並び、次元 {dim}）が"
                    f"ヘッダーの {key} = {width} と一致しません。ヘッダーと重みが食い違っている"
                    "ため読み込めません。元のモデルから書き出し直してください。",
                    f"{path}: tensor {name} has shape {shape} (GGUF order, dimension {dim}), "
                    f"but the header's {key} is {width}; a file whose header and weights "
                    "disagree cannot load. Export it again from the source model.",
                )
            )
            break  # one line per rule: the rest follow from the same mismatch
    return problems


def _gguf_blocks(
    path: Path, tensors: dict[str, list[int]], prefix: str, key: str, count: int
) -> list[Problem]:
    """The blocks numbered in tensor names (``blk.N.``) are exactly 0..count-1."""
    found = {int(m.group(1)) for n in tensors if (m := re.match(rf"{prefix}(\d+)\.", n))}
    if found == set(range(count)):
        return []
    have = f"{len(found)} ({min(found)}–{max(found)})" if found else "0"
    return [
        (
            f"{path}: ヘッダーの {key} は {count} ですが、テンソルにある層は {have} です。"
            "ヘッダーと重みが食い違っているため読み込めません。書き出し直してください。",
            f"{path}: the header's {key} is {count}, but the tensors hold {have} layers "
            f"({prefix}N.*); a file whose header and weights disagree cannot load. Export it "
            "again from the source model.",
        )
    ]


def _check_gguf(spec: ModelSpec, check: ModelCheck, problems: list[Problem]) -> None:
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
    before = len(problems)
    check.embedding_length = _size_field(reader, f"{arch}.embedding_length", spec.path, problems)
    check.layers = _size_field(reader, f"{arch}.block_count", spec.path, problems)
    heads = _optional_int(reader, f"{arch}.attention.head_count") or 1
    check.kv_heads = _optional_int(reader, f"{arch}.attention.head_count_kv") or heads
    check.head_dim = (
        _optional_int(reader, f"{arch}.attention.key_length") or check.embedding_length // heads
    )
    check.weights_bytes = spec.path.stat().st_size
    if len(problems) == before:
        tensors = _tensor_shapes(reader)
        width_key = f"{arch}.embedding_length"
        rules = (
            r"token_embd\.weight|output\.weight|output_norm\.weight",
            r"blk\.\d+\.attn_(q|norm)\.weight",
        )
        for pattern in rules:
            problems += _gguf_width(spec.path, tensors, pattern, width_key, check.embedding_length)
        problems += _gguf_blocks(spec.path, tensors, "blk.", f"{arch}.block_count", check.layers)
    if spec.mmproj is not None:
        _check_mmproj(spec.mmproj, Path(spec.path), check, problems)


def _check_s2_vision(folder: Path, model: Path, check: ModelCheck, problems: list[Problem]) -> None:
    """An exported S² vision folder (Bunny): its manifest reads, its files are there, it was
    exported with this ``model`` (its fingerprint), and its rows are as wide as the model's
    embeddings."""
    from jradi_desktop.architectures.bunny_s2 import check_pair, read_manifest

    try:
        manifest = read_manifest(folder)
        check_pair(folder, model)
    except ArchitectureError as exc:  # VisionFilesError: names the file
        problems.append((f"画像エンコーダーのファイルが使えません: {exc}", str(exc)))
        return
    if check.embedding_length and manifest.embedding_width != check.embedding_length:
        problems.append(
            (
                f"{folder / 'manifest.json'}: 画像の行の幅 {manifest.embedding_width} がモデルの"
                f"埋め込み次元 {check.embedding_length} と一致しません。同じモデルから書き出した"
                "vision フォルダーを選んでください。",
                f"{folder / 'manifest.json'}: image rows {manifest.embedding_width} wide do not "
                f"match the model's embedding size {check.embedding_length}; choose the vision "
                "folder exported from this model.",
            )
        )
    check.weights_bytes += sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _check_mmproj(mmproj: Path, model: Path, check: ModelCheck, problems: list[Problem]) -> None:
    if mmproj.is_dir():
        _check_s2_vision(mmproj, model, check, problems)
        return
    if not mmproj.is_file():
        problems.append(
            (
                f"{mmproj}: mmproj ファイルが見つかりません。",
                f"{mmproj}: the mmproj file does not exist.",
            )
        )
        return
    projector = _read_gguf(mmproj, problems)
    if projector is None:
        return
    if _field(projector, "general.architecture") != "clip":
        problems.append(
            (
                f"{mmproj}: 画像エンコーダー（clip）の GGUF ではありません。",
                f"{mmproj}: not a vision encoder GGUF (architecture 'clip' expected).",
            )
        )
        return
    tensors = _tensor_shapes(projector)
    projection = _field(projector, "clip.vision.projection_dim")
    if projection is None:
        last = sorted(n for n in tensors if n.startswith("mm.") and n.endswith("weight"))
        projection = tensors[last[-1]][-1] if last else 0
    if check.embedding_length and int(projection) != check.embedding_length:
        problems.append(
            (
                f"{mmproj}: 射影の次元 {projection} がモデルの埋め込み次元 "
                f"{check.embedding_length} と一致しません。同じモデルの mmproj を選んでください。",
                f"{mmproj}: projection size {projection} does not match the model's embedding "
                f"size {check.embedding_length}; choose the mmproj made for this model.",
            )
        )
    before = len(problems)
    width = _size_field(projector, "clip.vision.embedding_length", mmproj, problems)
    blocks = _size_field(projector, "clip.vision.block_count", mmproj, problems)
    if len(problems) == before:
        key = "clip.vision.embedding_length"
        problems += _gguf_width(mmproj, tensors, r"mm\.0\.weight", key, width)
        problems += _gguf_width(mmproj, tensors, r"v\.patch_embd\.weight", key, width, dim=-1)
        problems += _gguf_blocks(mmproj, tensors, "v.blk.", "clip.vision.block_count", blocks)
    check.weights_bytes += mmproj.stat().st_size


def _family(config: HFConfig) -> Architecture | None:
    """The registry's family of ``config.json``; None for one it does not run (transformers'
    Auto classes may)."""
    try:
        return detect(config)
    except ArchitectureError:
        return None


def _check_hf(spec: ModelSpec, check: ModelCheck, problems: list[Problem]) -> None:
    folder = Path(spec.path)
    config = None
    family = None
    try:
        config = read_hf_config(folder)
        text = config.text_config()
        model_type = config.text("model_type", "")
        family = _family(config)
        check.architecture = family.name if family is not None else model_type
        check.embedding_length = text.size("hidden_size")
        check.layers = text.size("num_hidden_layers")
        heads = text.size("num_attention_heads", 1)
        check.kv_heads = text.size("num_key_value_heads", heads)
        check.head_dim = text.size("head_dim", max(check.embedding_length // heads, 1))
    except ConfigError as exc:
        problems.append((exc.message_ja, exc.message_en))
        config = None
    if any(problem.kind == "no_weights" for problem in folder_problems(folder)):
        problems.append(
            (
                f"{folder}: safetensors 形式の重みがありません"
                "（pickle 形式は安全のため読み込みません）。",
                f"{folder}: no safetensors weights (pickle checkpoints are not loaded: unsafe).",
            )
        )
        return
    try:
        weights = safetensors_files(folder)
        check.weights_bytes = sum(p.stat().st_size for p in weights)
        if config is not None:
            problems += hf_shape_problems(config, safetensors_shapes(weights))
    except ConfigError as exc:
        problems.append((exc.message_ja, exc.message_en))
        return
    known = family is not None  # a family the registry runs is read without its custom code
    if config is not None and config.get("auto_map") and not known and not spec.allow_remote_code:
        check.warnings.append(
            "このモデルは独自のコード（auto_map）を含みます。allow_remote_code を許可した場合"
            "にだけ読み込めます。 / This model ships its own code (auto_map); it loads only "
            "with allow_remote_code."
        )


def check_model(spec: ModelSpec) -> ModelCheck:
    """Validate ``spec``'s files; raise ``ModelCheckError`` listing every problem found."""
    problems: list[Problem] = []
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
    if not problems:
        _check_memory(spec, check, problems)
    if problems:
        raise ModelCheckError("\n".join(p[0] for p in problems), "\n".join(p[1] for p in problems))
    return check


def _check_memory(spec: ModelSpec, check: ModelCheck, problems: list[Problem]) -> None:
    """The estimate against this machine: refused when a model that runs on the CPU needs
    more than all its memory (it would fail to allocate, or swap for minutes); a warning when
    it needs more than is free now, or may not fit beside a GPU's share."""
    import psutil

    need = check.memory_bytes(spec.context)
    memory = psutil.virtual_memory()
    on_cpu = spec.kind == "gguf" and spec.n_gpu_layers == 0
    where = spec.path
    if on_cpu and need > memory.total:
        problems.append(
            (
                f"{where}: このモデルには約 {need / GIB:.1f} GiB のメモリが必要ですが、この"
                f"コンピューターのメモリは {memory.total / GIB:.1f} GiB です。より小さい量子化"
                "（Q4_K_M など）のモデルか、短いコンテキストを選んでください。",
                f"{where}: this model needs about {need / GIB:.1f} GiB of memory, but this "
                f"computer has {memory.total / GIB:.1f} GiB; choose a smaller quantisation "
                "(e.g. Q4_K_M) or a shorter context.",
            )
        )
    elif need > memory.available:
        check.warnings.append(
            f"約 {need / GIB:.1f} GiB のメモリが必要ですが、いま空いているのは "
            f"{memory.available / GIB:.1f} GiB です。ほかのアプリを閉じないと読み込めないか"
            f"非常に遅くなります / needs about {need / GIB:.1f} GiB of memory, "
            f"{memory.available / GIB:.1f} GiB is free now: close other programs, or loading "
            "may fail or be very slow."
        )
