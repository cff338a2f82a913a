"""Bunny-v1.1 (and v1.0): SigLIP run at S² scales, an ``mlp2x_gelu`` projector, a Llama.

The declaration, torch-free: how a Bunny folder is recognised, where its parts sit in the
checkpoint, and the vision settings read from ``config.json`` and the tensors' shapes
(bunny-v1.1.md §1-§2, §7), and its Vicuna-style prompt format. ``_bunny_torch`` builds the
model from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from jradi_desktop.architectures._base import Architecture, ArchitectureError, Part
from jradi_desktop.architectures._chat import gguf_content, hf_content

LANGUAGE_PREFIXES = ("model.", "lm_head.")
VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
PROJECTOR_PREFIX = "model.mm_projector."
IMAGE_TOKEN_INDEX = -200  # Bunny's placeholder id for the image rows (constants.py)
DEFAULT_S2_SCALES = (384, 768, 1152)

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


def _scales(config: Mapping[str, Any]) -> tuple[int, ...]:
    if not config.get("use_s2", False):
        return ()
    raw = config.get("s2_scales")
    if raw is None:
        return DEFAULT_S2_SCALES
    try:
        values = [int(v) for v in str(raw).split(",")] if isinstance(raw, str) else list(raw)
        scales = tuple(sorted(int(v) for v in values))
    except (TypeError, ValueError) as exc:
        raise BunnyConfigError(f"s2_scales {raw!r} is not a comma-separated list") from exc
    if not scales or scales[0] <= 0:
        raise BunnyConfigError(f"s2_scales {raw!r} must be positive sizes")
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
    extra = dict(config.get("vision_config") or {})
    layers = int(extra.get("num_hidden_layers", max(stored, SO400M_DEFAULTS["num_hidden_layers"])))
    if width != 1152 and "num_hidden_layers" not in extra:
        layers = stored  # not so400m: the stored tower is the whole tower
    # 27 x 14 = 378: so400m takes 384 px crops and ignores the last 6 rows and columns.
    default_size = 384 if width == 1152 else grid * patch
    scales = _scales(config) or (int(extra.get("image_size", default_size)),)
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
        heads=int(extra.get("num_attention_heads", SO400M_DEFAULTS["num_attention_heads"])),
        eps=float(extra.get("layer_norm_eps", SO400M_DEFAULTS["layer_norm_eps"])),
        act=str(extra.get("hidden_act", SO400M_DEFAULTS["hidden_act"])),
        select_layer=int(config.get("mm_vision_select_layer", -2)),
        scales=scales,
    )
    if settings.trunk_layers > stored or settings.trunk_layers <= 0:
        raise BunnyConfigError(
            f"the image rows come from layer {settings.trunk_layers} of the vision tower, "
            f"but the checkpoint stores {stored} layer(s)"
        )
    mm_hidden = config.get("mm_hidden_size")
    if mm_hidden is not None and int(mm_hidden) != settings.feature_width:
        raise BunnyConfigError(
            f"mm_hidden_size {mm_hidden} is not {len(scales)} scale(s) x vision width {width} "
            f"= {settings.feature_width}"
        )
    if width % settings.heads:
        raise BunnyConfigError(f"vision width {width} is not divisible by {settings.heads} heads")
    return settings
