"""Bunny-v1.1 (and v1.0): SigLIP run at S² scales, an ``mlp2x_gelu`` projector, a Llama.

The family in one package. This module is the declaration, torch-free: how a Bunny folder is
recognised, where its parts sit in the checkpoint, the vision settings read from
``config.json`` and the tensors' shapes (bunny-v1.1.md §1-§2, §7), its Vicuna-style prompt
format, and the hooks every other layer dispatches on (``BunnyS2.hooks``). Beside it:
``_s2`` (the S² glue in numpy), ``_s2_runtime`` (the exported vision folder in ONNX Runtime),
``_model`` (the folder as torch modules), ``_prompt`` (the prompt as ids, §4) and ``_shapes``
(the model check's rules); their public names are importable from here, loaded on first use
(numpy, onnxruntime and torch are not imported with the declaration).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from jradi_desktop.architectures._base import Architecture, ArchitectureError, Part
from jradi_desktop.architectures._chat import gguf_content, hf_content
from jradi_desktop.architectures.fields import FieldError, integer, number

LANGUAGE_PREFIXES = ("model.", "lm_head.")
VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
PROJECTOR_PREFIX = "model.mm_projector."
IMAGE_TOKEN_INDEX = -200  # Bunny's placeholder id for the image rows (constants.py)
DEFAULT_S2_SCALES = (384, 768, 1152)
# S² scales are the trunk's crop times 1, 2, 3 (bunny-v1.1.md §3); the cost grows with the
# square of the largest, so a model may ask for at most this many times the smallest, and for
# at most MAX_S2_SCALES of them (60000 px would need tens of GB for one image).
MAX_S2_FACTOR = 4
MAX_S2_SCALES = 4

# SigLIP-so400m-patch14-384: what the shapes cannot tell (bunny-v1.1.md §7).
SO400M_DEFAULTS: Mapping[str, Any] = {
    "num_attention_heads": 16,
    "layer_norm_eps": 1e-6,
    "hidden_act": "gelu_pytorch_tanh",
    "num_hidden_layers": 27,
}


BUNNY = "bunny"  # the Bunny template's name (ModelSpec.template)
BUNNY_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
# Bunny's conversation format (bunny-v1.1.md §4; BAAI-DCAI/Bunny conversation.py, conv_llama:
# SeparatorStyle.TWO, roles USER/ASSISTANT, sep " ", sep2 "<|end_of_text|>"):
#   SYSTEM + " " + "USER: " + Q1 + " " + "ASSISTANT: " + A1 + "<|end_of_text|>"
#                + "USER: " + Q2 + " " + "ASSISTANT:"
# i.e. a user turn is followed by sep " ", an answer by sep2 (the EOS) with no space after it.
_SEP = "{{ ' ' }}"
_USER = "{{ 'USER: ' }}"
_ASSISTANT = "{{ 'ASSISTANT: ' }}"
_GENERATION = "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"

# Bunny's prompt "<system> USER: <image>\n{prompt} ASSISTANT:" (JRadiEvo), with the system
# message replaceable (Bunny's own when none is given). No BOS: the tokenizer adds it.
BUNNY_CHAT_TEMPLATE = (
    "{% if messages and messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}"
    "{% set rest = messages[1:] %}{% else %}{{ '" + BUNNY_SYSTEM.replace("'", "\\'") + "' }}"
    "{% set rest = messages %}{% endif %}" + _SEP + "{% for message in rest %}"
    "{% if message['role'] == 'user' %}" + _USER + hf_content() + _SEP + "{% endif %}"
    "{% if message['role'] == 'assistant' %}" + _ASSISTANT + hf_content() + "{{ eos_token }}"
    "{% endif %}{% endfor %}" + _GENERATION
)
# llama-cpp-python's handler: its default system message is BUNNY_SYSTEM, images come first.
BUNNY_GGUF_FORMAT = (
    "{% for message in messages %}"
    "{% if message.role == 'system' %}{{ message.content }}" + _SEP + "{% endif %}"
    "{% if message.role == 'user' %}" + _USER + gguf_content() + _SEP + "{% endif %}"
    "{% if message.role == 'assistant' and message.content is not none %}"
    + _ASSISTANT
    + "{{ message.content }}{{ eos_token }}{% endif %}"
    "{% endfor %}" + _GENERATION
)

# Bunny's own config keys (besides mm_* and tokenizer_*); everything else is the Llama's.
_NOT_LLAMA = frozenset(
    {"model_type", "architectures", "auto_map", "vision_config", "use_s2", "s2_scales",
     "image_aspect_ratio", "unfreeze_vision_tower", "tune_mm_mlp_adapter",
     "freeze_mm_mlp_adapter", "use_mm_proj"}
)  # fmt: skip


class BunnyConfigError(ArchitectureError):
    """``config.json`` or the tensors do not describe a Bunny model we can run."""


class BunnyS2(Architecture):
    """Bunny's flat layout: the Llama's own names, the tower and projector under ``model.``."""

    name: ClassVar[str] = "bunny_s2"
    description: ClassVar[str] = (
        "Bunny-v1.1 / v1.0 (SigLIP at S² scales, mlp2x_gelu projector, Llama-3; "
        "BunnyLlamaForCausalLM, read without its custom code)"
    )
    template: ClassVar[str | None] = BUNNY
    chat_templates: ClassVar[Mapping[str, str]] = {template: BUNNY_CHAT_TEMPLATE}
    model_type: ClassVar[str] = "bunny-llama"
    classes: ClassVar[tuple[str, ...]] = ("BunnyLlamaForCausalLM",)
    demo_layout: ClassVar[str | None] = "bunny"
    hooks: ClassVar[Mapping[str, str]] = {
        "shape_rules": "jradi_desktop.architectures.bunny_s2._shapes:vision_rules",
        "hf_loader": "jradi_desktop.inference._hf_bunny:BunnyParts",
        "gguf_chat_handler": "jradi_desktop.inference._chat_handlers:BunnyChatHandler",
        "evolve_dev_set": "engine.evolve._vlm:BunnyDevSet",
        "demo_builder": "engine.demo:write_bunny_vlm",
        "export": "engine.export._export:S2_EXPORT",
    }

    @classmethod
    def matches(cls, config: Mapping[str, Any]) -> bool:
        if config.get("model_type") == cls.model_type:
            return True
        return any(str(a).startswith("BunnyLlama") for a in config.get("architectures") or ())

    def split_key(self, key: str) -> tuple[Part, str] | None:
        if key.startswith(VISION_PREFIX):
            return "vision", key.removeprefix(VISION_PREFIX)
        if key.startswith(PROJECTOR_PREFIX):
            return "projector", key.removeprefix(PROJECTOR_PREFIX)
        if key.startswith("model.vision_tower."):
            return None  # nothing else is stored under the tower
        if key.startswith(LANGUAGE_PREFIXES):
            return "language", key
        return None

    def stored_key(self, part: Part, name: str) -> str:
        prefix = {"language": "", "vision": VISION_PREFIX, "projector": PROJECTOR_PREFIX}[part]
        return prefix + name

    def text_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The Llama's fields: everything but Bunny's own keys."""
        return {
            k: v
            for k, v in config.items()
            if k not in _NOT_LLAMA and not k.startswith(("mm_", "tokenizer_"))
        } | {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}


@dataclass(frozen=True)
class BunnyVision:
    """The vision settings of one Bunny checkpoint."""

    width: int
    intermediate: int
    patch: int
    image_size: int  # the trunk's input: the smallest S² scale
    layers: int  # in the full tower; the trunk runs ``trunk_layers`` of them
    heads: int
    eps: float
    act: str
    select_layer: int
    scales: tuple[int, ...]

    @property
    def trunk_layers(self) -> int:
        """Layers up to ``hidden_states[select_layer]`` (Bunny: -2, i.e. 26 of 27)."""
        return self.layers + 1 + self.select_layer if self.select_layer < 0 else self.select_layer

    @property
    def grid(self) -> int:
        return self.image_size // self.patch

    @property
    def feature_width(self) -> int:
        return self.width * len(self.scales)


def _scales(config: Mapping[str, Any], where: object) -> tuple[int, ...]:
    if not config.get("use_s2", False):
        return ()
    raw = config.get("s2_scales")
    if raw is None:
        return DEFAULT_S2_SCALES
    try:
        values = [int(v) for v in raw.split(",")] if isinstance(raw, str) else list(raw)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise TypeError(raw)
        scales = tuple(sorted(values))
    except (TypeError, ValueError) as exc:
        raise FieldError(
            f"{where}: s2_scales {raw!r} はカンマ区切りの整数ではありません / field 's2_scales' "
            f"is {raw!r}, not a comma-separated list of integers"
        ) from exc
    if (not 1 <= len(scales) <= MAX_S2_SCALES or scales[0] <= 0
            or scales[-1] > MAX_S2_FACTOR * scales[0]):  # fmt: skip
        raise FieldError(
            f"{where}: s2_scales {raw!r} は正の大きさ {MAX_S2_SCALES} 個までで、最大が最小の "
            f"{MAX_S2_FACTOR} 倍以下である必要があります / field 's2_scales' is {raw!r}; "
            f"expected 1..{MAX_S2_SCALES} positive sizes, the largest at most {MAX_S2_FACTOR}x "
            "the smallest"
        )
    return scales


def vision_settings(config: Mapping[str, Any], shapes: Mapping[str, Sequence[int]]) -> BunnyVision:
    """The vision settings from ``config.json`` and the checkpoint's tensor shapes.

    ``shapes`` maps vision keys (``VISION_PREFIX`` stripped) to shapes. Widths, patch,
    image size and stored layers come from the shapes; head count, eps, activation and the
    full layer count from an optional ``vision_config`` in ``config.json``, else SigLIP-so400m's
    values (a merged checkpoint may lack the unused last layer).
    """
    try:
        width, _, patch, _ = shapes["embeddings.patch_embedding.weight"]
        positions = shapes["embeddings.position_embedding.weight"][0]
        intermediate = shapes["encoder.layers.0.mlp.fc1.weight"][0]
    except KeyError as exc:
        raise BunnyConfigError(f"vision tensor {VISION_PREFIX}{exc.args[0]} is missing") from exc
    grid = math.isqrt(positions)
    if grid * grid != positions:
        raise BunnyConfigError(
            f"{VISION_PREFIX}embeddings.position_embedding.weight has {positions} rows, "
            "not a square grid"
        )
    stored = 1 + max(int(key.split(".")[2]) for key in shapes if key.startswith("encoder.layers."))
    where = getattr(config, "path", "config.json")
    extra = config.get("vision_config") or {}
    if not isinstance(extra, Mapping):
        raise FieldError(
            f"{where}: vision_config が {extra!r} です（オブジェクトが必要です） / field "
            f"'vision_config' is {extra!r}; expected an object"
        )
    extra = dict(extra)

    def vision(name: str, default: Any, lo: int, hi: int) -> int:
        return integer(extra.get(name, default), where, f"vision_config.{name}", lo, hi)

    layers = vision("num_hidden_layers", max(stored, SO400M_DEFAULTS["num_hidden_layers"]), 1,
                    1024)  # fmt: skip
    if width != 1152 and "num_hidden_layers" not in extra:
        layers = stored  # not so400m: the stored tower is the whole tower
    # 27 x 14 = 378: so400m takes 384 px crops and ignores the last 6 rows and columns.
    default_size = 384 if width == 1152 else grid * patch
    scales = _scales(config, where) or (vision("image_size", default_size, 1, 4096),)
    act = extra.get("hidden_act", SO400M_DEFAULTS["hidden_act"])
    if not isinstance(act, str):
        raise FieldError(f"{where}: field 'vision_config.hidden_act' is {act!r}, not a name")
    if scales[0] // patch != grid:
        raise BunnyConfigError(
            f"the smallest scale {scales[0]} px gives {scales[0] // patch} patches a side, but "
            f"{VISION_PREFIX}embeddings.position_embedding.weight holds {grid} x {grid}"
        )
    settings = BunnyVision(
        width=int(width),
        intermediate=int(intermediate),
        patch=int(patch),
        image_size=scales[0],
        layers=layers,
        heads=vision("num_attention_heads", SO400M_DEFAULTS["num_attention_heads"], 1, 1024),
        eps=number(
            extra.get("layer_norm_eps", SO400M_DEFAULTS["layer_norm_eps"]),
            where,
            "vision_config.layer_norm_eps",
            positive=True,
        ),
        act=act,
        select_layer=integer(
            config.get("mm_vision_select_layer", -2), where, "mm_vision_select_layer", -1024, 1024
        ),
        scales=scales,
    )
    if settings.trunk_layers > stored or settings.trunk_layers <= 0:
        raise BunnyConfigError(
            f"the image rows come from layer {settings.trunk_layers} of the vision tower, "
            f"but the checkpoint stores {stored} layer(s)"
        )
    mm_hidden = config.get("mm_hidden_size")
    if mm_hidden is not None:
        mm_hidden = integer(mm_hidden, where, "mm_hidden_size", 1, 1 << 20)
    if mm_hidden is not None and mm_hidden != settings.feature_width:
        raise BunnyConfigError(
            f"mm_hidden_size {mm_hidden} is not {len(scales)} scale(s) x vision width {width} "
            f"= {settings.feature_width}"
        )
    if width % settings.heads:
        raise BunnyConfigError(f"vision width {width} is not divisible by {settings.heads} heads")
    return settings


# The family's code beyond the declaration, by public name: the module of this package that
# holds it, imported when the name is first asked for.
_LAZY: Mapping[str, str] = {
    **dict.fromkeys(("MEAN", "PAD_COLOUR", "STD"), "_s2"),
    **dict.fromkeys(
        (
            "INT8_MIN_ROW_COSINE",
            "Int8Agreement",
            "S2VisionEncoder",
            "VisionFilesError",
            "VisionManifest",
            "check_pair",
            "read_manifest",
        ),
        "_s2_runtime",
    ),
    **dict.fromkeys(
        ("BunnyModel", "Tensors", "load_bunny", "read_tensors", "siglip_trunk", "vision_trunk"),
        "_model",
    ),
    **dict.fromkeys(("chat_prompt_ids", "prompt_ids"), "_prompt"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
