"""Does a Hugging Face folder's ``config.json`` agree with its weights? (headers only)

Shapes come from the safetensors headers (8-byte length + JSON), so nothing is loaded and
torch is not needed. The rules cover the Llama layout (``embed_tokens``, ``layers.N.self_attn``,
``mlp``; also Mistral, Qwen2, Gemma) and LLaVA's CLIP tower and projector; tensors in other
layouts are not judged. Both ``jradi models add`` and ``jradi-engine export-gguf`` ask here,
so a folder whose config says 128 wide while its tensors are 64 wide is refused before a GGUF
that cannot load is written or registered.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from jradi_desktop.models._hf_config import ConfigError, HFConfig, build_error

Shapes = dict[str, tuple[Path, list[int]]]
Problem = tuple[str, str]  # (Japanese, English)
MAX_HEADER = 100 * 1024**2
_MAX_SHOWN = 4


def _header(path: Path, error: type[Exception]) -> dict:
    def bad(why_ja: str, why_en: str) -> Exception:
        return build_error(
            error,
            f"{path}: safetensors のヘッダーを読めません（{why_ja}）。ファイルが壊れているか"
            "途中までしかありません。モデルを入手し直してください。",
            f"{path}: the safetensors header cannot be read ({why_en}); the file is damaged "
            "or incomplete. Download or copy the model again.",
        )

    try:
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise bad("8 バイト未満", "shorter than 8 bytes")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER or length > path.stat().st_size - 8:
                raise bad(f"ヘッダー長 {length} が不正", f"header length {length} is impossible")
            data = json.loads(f.read(length).decode("utf-8"))
    except OSError as exc:
        raise bad(str(exc), str(exc)) from exc
    except ValueError as exc:  # JSON or UTF-8
        raise bad(f"JSON ではありません: {exc}", f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise bad("JSON オブジェクトではありません", "not a JSON object")
    return data


def safetensors_files(folder: Path, error: type[Exception] = ConfigError) -> list[Path]:
    """The safetensors files: those the index names, else every ``*.safetensors``."""
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return sorted(folder.glob("*.safetensors"))
    try:
        mapping = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(mapping.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise build_error(
            error,
            f"{index}: 読めないか weight_map がありません（{exc}）。モデルに付属のファイルに"
            "戻してください。",
            f"{index}: unreadable or without a weight_map ({exc}); restore the file that came "
            "with the model.",
        ) from exc
    files = [folder / name for name in names]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise build_error(
            error,
            f"{index}: 記載された重みファイル {', '.join(missing)} がありません。すべての分割"
            "ファイルを同じフォルダーに置いてください。",
            f"{index}: names weight files that are missing ({', '.join(missing)}); put every "
            "shard in the same folder.",
        )
    return files


def safetensors_shapes(files: list[Path], error: type[Exception] = ConfigError) -> Shapes:
    """Every tensor's file and shape, read from the headers of ``files``."""
    shapes: Shapes = {}
    for path in files:
        for name, entry in _header(path, error).items():
            if name != "__metadata__" and isinstance(entry, dict):
                shapes[name] = (path, [int(d) for d in entry.get("shape", [])])
    return shapes


class _Rules:
    """Collects (ja, en) problems: the first tensor each config rule contradicts, and a count."""

    def __init__(self, config: HFConfig, shapes: Shapes) -> None:
        self.config = config
        self.shapes = shapes
        self.problems: list[Problem] = []
        self.mismatches: dict[str, list[tuple[str, list[int], str]]] = {}  # why -> tensors

    def shape(self, name: str, expected: list[int | None], why: str) -> None:
        """``expected`` per dimension; None is not checked. ``why`` names the config fields."""
        if name not in self.shapes:
            return
        actual = self.shapes[name][1]
        wrong = len(actual) != len(expected) or any(
            e is not None and a != e for a, e in zip(actual, expected, strict=False)
        )
        if wrong:
            shown = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
            self.mismatches.setdefault(why, []).append((name, actual, shown))

    def shape_problems(self) -> list[Problem]:
        out = []
        for why, tensors in self.mismatches.items():
            name, actual, shown = tensors[0]
            path = self.shapes[name][0]
            more_ja = f"（ほか {len(tensors) - 1} 個のテンソルも同様）" if len(tensors) > 1 else ""
            more_en = f" (and {len(tensors) - 1} more tensors)" if len(tensors) > 1 else ""
            out.append(
                (
                    f"{path}: テンソル {name} の形は {actual} ですが、{self.config.path} の {why} "
                    f"からは {shown} のはずです{more_ja}。config.json と重みが別のモデルのもの"
                    "です。そのモデルに付属の config.json を使ってください。",
                    f"{path}: tensor {name} has shape {actual}, but {why} in "
                    f"{self.config.path} call for {shown}{more_en}; the config and the weights "
                    "belong to different models. Use the config.json that came with the weights.",
                )
            )
        return out

    def count(self, pattern: str, expected: int, field: str, what: str) -> None:
        """The blocks ``pattern`` numbers (group 1) are exactly 0..expected-1."""
        found = {int(m.group(1)) for n in self.shapes if (m := re.match(pattern, n))}
        if not found or found == set(range(expected)):
            return
        path = self.shapes[next(n for n in self.shapes if re.match(pattern, n))][0]
        have = f"{len(found)} ({min(found)}–{max(found)})"
        what_ja = {"language model": "言語モデル", "vision encoder": "画像エンコーダー"}[what]
        self.problems.append(
            (
                f"{path}: {self.config.path} の {field} は {expected} ですが、重みにある"
                f"{what_ja}の層は {have} です。config.json と重みが別のモデルのものです。"
                "そのモデルに付属の config.json を使ってください。",
                f"{path}: {field} in {self.config.path} is {expected}, but the weights hold "
                f"{have} {what} layers; the config and the weights belong to different models. "
                "Use the config.json that came with the weights.",
            )
        )


def _language(rules: _Rules, text: HFConfig) -> None:
    embed = [n for n in rules.shapes if n.endswith("embed_tokens.weight") and "vision" not in n]
    if not embed:
        return
    prefix = embed[0].removesuffix("embed_tokens.weight")
    field, at = f"{text.prefix}hidden_size", text.prefix
    hidden = text.size("hidden_size")
    layers = text.size("num_hidden_layers")
    heads = text.size("num_attention_heads", None)
    kv = text.size("num_key_value_heads", None) or heads
    head_dim = text.size("head_dim", None) or (hidden // heads if heads else None)
    inter = text.size("intermediate_size", None)
    vocab = text.size("vocab_size", None)
    rows = rules.shapes[embed[0]][1][0] if rules.shapes[embed[0]][1] else None
    rules.shape(embed[0], [vocab, hidden], f"{at}vocab_size, {field}")
    for name in rules.shapes:
        if name.endswith("lm_head.weight") and "vision" not in name:
            rules.shape(name, [rows, hidden], field)
    rules.shape(f"{prefix}norm.weight", [hidden], field)
    q = heads * head_dim if heads and head_dim else None
    k = kv * head_dim if kv and head_dim else None
    attn = f"{field}, {at}num_attention_heads, {at}num_key_value_heads, {at}head_dim"
    mlp = f"{field}, {at}intermediate_size"
    per_layer = {
        "self_attn.q_proj.weight": ([q, hidden], attn),
        "self_attn.k_proj.weight": ([k, hidden], attn),
        "self_attn.v_proj.weight": ([k, hidden], attn),
        "self_attn.o_proj.weight": ([hidden, q], attn),
        "mlp.gate_proj.weight": ([inter, hidden], mlp),
        "mlp.up_proj.weight": ([inter, hidden], mlp),
        "mlp.down_proj.weight": ([hidden, inter], mlp),
        "input_layernorm.weight": ([hidden], field),
        "post_attention_layernorm.weight": ([hidden], field),
    }
    pattern = re.escape(prefix) + r"layers\.(\d+)\.(.+)$"
    rules.count(pattern, layers, f"{at}num_hidden_layers", "language model")
    for name in rules.shapes:
        if (m := re.match(pattern, name)) and m.group(2) in per_layer:
            rules.shape(name, *per_layer[m.group(2)])


_VISION = r"(?:model\.)?vision_tower\.(?:vision_model\.)?"


def _vision(rules: _Rules, config: HFConfig, text_hidden: int | None) -> None:
    if config.get("model_type") != "llava" or not any(re.match(_VISION, n) for n in rules.shapes):
        return  # other VLM families keep other settings (Bunny's vision_config is optional)
    vision = config.section("vision_config")
    width = vision.size("hidden_size")
    field = f"{vision.prefix}hidden_size"
    inter = vision.size("intermediate_size", None)
    patch = vision.size("patch_size", None)
    per_layer = {
        f"self_attn.{p}_proj.weight": ([width, width], field) for p in ("q", "k", "v", "out")
    }
    mlp = f"{field}, {vision.prefix}intermediate_size"
    per_layer["mlp.fc1.weight"] = ([inter, width], mlp)
    per_layer["mlp.fc2.weight"] = ([width, inter], mlp)
    pattern = _VISION + r"encoder\.layers\.(\d+)\.(.+)$"
    layers = vision.size("num_hidden_layers")
    rules.count(pattern, layers, f"{vision.prefix}num_hidden_layers", "vision encoder")
    for name in rules.shapes:
        if (m := re.match(pattern, name)) and m.group(2) in per_layer:
            rules.shape(name, *per_layer[m.group(2)])
        elif re.match(_VISION + r"embeddings\.patch_embedding\.weight$", name):
            rules.shape(name, [width, None, patch, patch], f"{field}, {vision.prefix}patch_size")
        elif m := re.match(r"(?:model\.)?multi_modal_projector\.linear_([12])\.weight$", name):
            wide = width if m.group(1) == "1" else text_hidden
            rules.shape(name, [text_hidden, wide], f"{field}, text_config.hidden_size")


def hf_shape_problems(config: HFConfig, shapes: Shapes) -> list[Problem]:
    """Every way ``shapes`` (from the headers) contradict ``config``; [] when they agree.

    One line per contradicted rule (its first tensor, and how many more), at most a few;
    config fields of the wrong type raise ``config.error`` (see ``HFConfig``).
    """
    rules = _Rules(config, shapes)
    text = config.text_config()
    _language(rules, text)
    _vision(rules, config, text.size("hidden_size", None))
    problems = rules.problems + rules.shape_problems()
    if len(problems) > _MAX_SHOWN:
        more = len(problems) - _MAX_SHOWN
        problems = [*problems[:_MAX_SHOWN], (f"…ほか {more} 件。", f"… and {more} more.")]
    return problems
