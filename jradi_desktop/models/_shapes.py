"""Does a Hugging Face folder's ``config.json`` agree with its weights? (headers only)

Shapes come from the safetensors headers (8-byte length + JSON), so nothing is loaded and
torch is not needed. Which tensor is which comes from the architecture registry: every key is
mapped to its part (language, vision, projector) and canonical name, and the rules are written
against canonical names. The language tower is judged as a Llama (``embed_tokens``,
``layers.N.self_attn``, ``mlp``; a family the registry does not know, e.g. Mistral or Qwen2,
is read with the Llama's names); LLaVA's CLIP tower and projector against ``vision_config``;
Bunny's SigLIP tower against the settings its own tensors and ``config.json`` give
(``bunny_s2.vision_settings``) and its projector against ``mm_hidden_size`` and the Llama's
width. Both ``jradi models add`` and ``jradi-engine export-gguf`` (and the merge) ask here, so a
folder whose config says 128 wide while its tensors are 64 wide is refused before a GGUF that
cannot load is written or registered.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from jradi_desktop.architectures import Architecture, ArchitectureError, Part, detect, get, shards
from jradi_desktop.errors import build_error
from jradi_desktop.models._hf_config import ConfigError, HFConfig

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
    """The safetensors files: those the index names (each must be there), else every
    ``*.safetensors``; the one shard lookup of the app, the Bunny loader and the engine."""
    return shards.safetensors_files(folder, error)


def safetensors_shapes(files: list[Path], error: type[Exception] = ConfigError) -> Shapes:
    """Every tensor's file and shape, read from the headers of ``files``."""
    shapes: Shapes = {}
    for path in files:
        for name, entry in _header(path, error).items():
            if name != "__metadata__" and isinstance(entry, dict):
                shape = entry.get("shape", [])
                if not isinstance(shape, list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 40
                    for d in shape
                ):
                    raise build_error(
                        error,
                        f"{path}: テンソル {name} の shape {shape!r} が不正です（0 以上の整数の"
                        "リストが必要です）。ファイルが壊れています。",
                        f"{path}: tensor {name} has shape {shape!r}; expected a list of "
                        "non-negative integers. The file is damaged.",
                    )
                shapes[name] = (path, list(shape))
    return shapes


class _Rules:
    """Collects (ja, en) problems: the first tensor each rule contradicts, and a count.

    ``parts`` holds the stored key of every tensor by part and canonical name; rules name
    tensors canonically and messages name the stored key and its file.
    """

    def __init__(self, config: HFConfig, shapes: Shapes, architecture: Architecture) -> None:
        self.config = config
        self.shapes = shapes
        self.architecture = architecture
        self.parts = architecture.parts(shapes)
        self.problems: list[Problem] = []
        # (why, from the config?) -> tensors
        self.mismatches: dict[tuple[str, bool], list[tuple[str, list[int], str]]] = {}

    def stored(self, part: Part, name: str) -> str | None:
        return self.parts[part].get(name)

    def shape(
        self, part: Part, name: str, expected: list[int | None], why: str, config: bool = True
    ) -> None:
        """``expected`` per dimension; None is not checked. ``why`` names the config fields
        (``config``) or the tensors the expectation comes from."""
        key = self.stored(part, name)
        if key is None:
            return
        actual = self.shapes[key][1]
        wrong = len(actual) != len(expected) or any(
            e is not None and a != e for a, e in zip(actual, expected, strict=False)
        )
        if wrong:
            shown = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
            self.mismatches.setdefault((why, config), []).append((key, actual, shown))

    def shape_problems(self) -> list[Problem]:
        out = []
        for (why, config), tensors in self.mismatches.items():
            name, actual, shown = tensors[0]
            path = self.shapes[name][0]
            more_ja = f"（ほか {len(tensors) - 1} 個のテンソルも同様）" if len(tensors) > 1 else ""
            more_en = f" (and {len(tensors) - 1} more tensors)" if len(tensors) > 1 else ""
            if config:
                out.append(
                    (
                        f"{path}: テンソル {name} の形は {actual} ですが、{self.config.path} の "
                        f"{why} からは {shown} のはずです{more_ja}。config.json と重みが別の"
                        "モデルのものです。そのモデルに付属の config.json を使ってください。",
                        f"{path}: tensor {name} has shape {actual}, but {why} in "
                        f"{self.config.path} call for {shown}{more_en}; the config and the "
                        "weights belong to different models. Use the config.json that came "
                        "with the weights.",
                    )
                )
            else:
                out.append(
                    (
                        f"{path}: テンソル {name} の形は {actual} ですが、{why} からは {shown} の"
                        f"はずです{more_ja}。重みファイルが壊れているか、別のモデルの重みが"
                        "混ざっています。モデルを入手し直してください。",
                        f"{path}: tensor {name} has shape {actual}, but {why} call for "
                        f"{shown}{more_en}; the weights are damaged or mix two models. "
                        "Download or copy the model again.",
                    )
                )
        return out

    def blocks(self, part: Part, prefix: str) -> dict[int, str]:
        """Block number -> a stored key, for the canonical names ``prefix<N>.*``."""
        found: dict[int, str] = {}
        pattern = re.escape(prefix) + r"(\d+)\."
        for name, key in self.parts[part].items():
            if m := re.match(pattern, name):
                found.setdefault(int(m.group(1)), key)
        return found

    def count(self, found: dict[int, str], expected: int, field: str, what: str) -> None:
        """The numbered blocks ``found`` are exactly 0..expected-1."""
        if not found or set(found) == set(range(expected)):
            return
        path = self.shapes[found[min(found)]][0]
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

    def missing(self, key: str, what_ja: str, what_en: str) -> None:
        """A tensor the family needs is in none of the weight files."""
        folder = self.config.path.parent
        self.problems.append(
            (
                f"{folder}: {what_ja}のテンソル {key} がどの重みファイルにもありません。"
                "重みが欠けています。モデルを入手し直してください。",
                f"{folder}: tensor {key} of {what_en} is in none of the weight files; the "
                "weights are incomplete. Download or copy the model again.",
            )
        )


def _language(rules: _Rules, text: HFConfig) -> None:
    if rules.stored("language", "model.embed_tokens.weight") is None:
        return
    field, at = f"{text.prefix}hidden_size", text.prefix
    hidden = text.size("hidden_size")
    layers = text.size("num_hidden_layers")
    heads = text.size("num_attention_heads", None)
    kv = text.size("num_key_value_heads", None) or heads
    head_dim = text.size("head_dim", None) or (hidden // heads if heads else None)
    inter = text.size("intermediate_size", None)
    vocab = text.size("vocab_size", None)
    embed = rules.shapes[rules.parts["language"]["model.embed_tokens.weight"]][1]
    rows = embed[0] if embed else None
    rules.shape(
        "language", "model.embed_tokens.weight", [vocab, hidden], f"{at}vocab_size, {field}"
    )
    rules.shape("language", "lm_head.weight", [rows, hidden], field)
    rules.shape("language", "model.norm.weight", [hidden], field)
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
    blocks = rules.blocks("language", "model.layers.")
    rules.count(blocks, layers, f"{at}num_hidden_layers", "language model")
    for name in rules.parts["language"]:
        if (m := re.match(r"model\.layers\.\d+\.(.+)$", name)) and m.group(1) in per_layer:
            rules.shape("language", name, *per_layer[m.group(1)])


def _architecture(config: HFConfig) -> Architecture:
    """The registry's family; a family it does not run is judged by the Llama's names."""
    try:
        return detect(config)
    except ArchitectureError:
        return get("llama")


def hf_shape_problems(config: HFConfig, shapes: Shapes) -> list[Problem]:
    """Every way ``shapes`` (from the headers) contradict ``config``; [] when they agree.

    One line per contradicted rule (its first tensor, and how many more), at most a few;
    config fields of the wrong type raise ``config.error`` (see ``HFConfig``).
    """
    architecture = _architecture(config)
    rules = _Rules(config, shapes, architecture)
    text = config.text_config()
    _language(rules, text)
    if architecture.has_vision:  # the family's own rules for its tower and projector
        architecture.hook("shape_rules")(rules, config, text.size("hidden_size", None))
    problems = rules.problems + rules.shape_problems()
    if len(problems) > _MAX_SHOWN:
        more = len(problems) - _MAX_SHOWN
        problems = [*problems[:_MAX_SHOWN], (f"…ほか {more} 件。", f"… and {more} more.")]
    return problems
