"""The image path of a LLaVA-style model (CLIP tower + MLP projector) as llama.cpp's mmproj.

What llama.cpp's clip/mtmd loader expects of a LLaVA-1.5-style projector: architecture
``clip``, projector type ``mlp`` (tensors ``mm.0`` and ``mm.2``), every encoder layer and no
post-layernorm. The loader runs all but the last layer (LLaVA reads the second-to-last
layer's raw output) unless ``clip.vision.feature_layer`` names another one, and it drops the
CLS position itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from engine._checkpoint import Checkpoint
from engine.errors import ExportError
from jradi_desktop.architectures import Part
from jradi_desktop.architectures.llava_clip import LlavaClip
from jradi_desktop.models import HFConfig, read_hf_config

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
_PROJECTOR = {"linear_1": "0", "linear_2": "2"}  # LLaVA's projector layers -> mm.N


def _channels(data: HFConfig, key: str) -> list[float]:
    value = data.get(key)
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ExportError(
            f"{data.path}: field {data.prefix}{key} is {json.dumps(value)}; it must be a list "
            "of 3 numbers (one per RGB channel)."
        )
    return [float(v) for v in value]


def _image_stats(folder: Path) -> tuple[list[float], list[float]]:
    candidates = (("preprocessor_config.json", None), ("processor_config.json", "image_processor"))
    for name, key in candidates:
        path = folder / name
        if path.is_file():
            data = read_hf_config(path, ExportError)
            data = data.section(key, {}) if key else data
            if "image_mean" in data:
                return _channels(data, "image_mean"), _channels(data, "image_std")
    return CLIP_MEAN, CLIP_STD


def feature_layer(config: HFConfig, n_layers: int, folder: Path) -> int:
    """The index into the encoder's hidden states (0 = its input) that LLaVA projects."""
    layer = config.get("vision_feature_layer", -2)
    if isinstance(layer, list | tuple):
        raise ExportError(
            f"{folder}: several vision feature layers ({layer}) are not supported; "
            "supported: one layer (LLaVA 1.5 reads -2)."
        )
    layer = config.int("vision_feature_layer", -2)
    strategy = config.text("vision_feature_select_strategy", "default")
    if strategy != "default":
        raise ExportError(
            f"{folder}: vision_feature_select_strategy {strategy!r} is not supported; "
            "supported: 'default' (CLS dropped, as LLaVA 1.5)."
        )
    index = layer if layer >= 0 else n_layers + 1 + layer
    if not 0 <= index <= n_layers:
        raise ExportError(
            f"{config.path}: field vision_feature_layer is {layer}, outside the vision "
            f"encoder's {n_layers} layers; it must be between {-n_layers - 1} and {n_layers}."
        )
    return index


@dataclass(frozen=True)
class MmprojParams:
    """The vision encoder's hyper-parameters, read and checked before anything is written."""

    n_layers: int
    feature_layer: int
    text_hidden: int
    image_size: int
    patch_size: int
    hidden: int
    ffn: int
    n_head: int
    eps: float
    gelu: bool
    mean: list[float]
    std: list[float]


def mmproj_params(ckpt: Checkpoint) -> MmprojParams:
    """Every config value the mmproj needs, typed (``ExportError`` names the file and field)."""
    if not isinstance(ckpt.architecture, LlavaClip):  # the writer of LLaVA's export hook
        raise ExportError(
            f"{ckpt.folder}: an mmproj is written for LLaVA-style VLMs with a CLIP tower only; "
            f"this folder is a {ckpt.architecture.description}."
        )
    vcfg = ckpt.vision_config
    vision_type = vcfg.text("model_type", None)
    if vision_type not in ("clip_vision_model", "clip"):
        raise ExportError(
            f"{ckpt.folder}: the vision tower is {vision_type!r}; the mmproj exporter supports "
            "CLIP vision towers (vision_config.model_type 'clip_vision_model')."
        )
    activation = ckpt.config.text("projector_hidden_act", "gelu")
    if activation != "gelu":
        raise ExportError(
            f"{ckpt.folder}: projector activation {activation!r} is not supported; llama.cpp's "
            "mlp projector uses gelu."
        )
    n_layers = vcfg.size("num_hidden_layers")
    mean, std = _image_stats(ckpt.folder)
    return MmprojParams(
        n_layers=n_layers,
        feature_layer=feature_layer(ckpt.config, n_layers, ckpt.folder),
        text_hidden=ckpt.text_config.size("hidden_size"),
        image_size=vcfg.size("image_size"),
        patch_size=vcfg.size("patch_size"),
        hidden=vcfg.size("hidden_size"),
        ffn=vcfg.size("intermediate_size"),
        n_head=vcfg.size("num_attention_heads"),
        eps=vcfg.float("layer_norm_eps", 1e-5),
        gelu=vcfg.text("hidden_act", "quick_gelu") == "gelu",
        mean=mean,
        std=std,
    )


def write_mmproj_gguf(ckpt: Checkpoint, out_path: Path, outtype: str = "f16") -> Path:
    """Write the vision encoder and projector of ``ckpt`` to ``out_path``."""
    p = mmproj_params(ckpt)
    n_layers = p.n_layers

    writer = gguf.GGUFWriter(str(out_path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ])
    writer.add_name(f"{ckpt.folder.name} mmproj")
    writer.add_file_type(
        gguf.LlamaFileType.ALL_F32 if outtype == "f32" else gguf.LlamaFileType.MOSTLY_F16
    )
    writer.add_clip_has_vision_encoder(True)
    writer.add_bool(gguf.Keys.Clip.HAS_LLAVA_PROJECTOR, True)
    writer.add_clip_projector_type(gguf.VISION_PROJECTOR_TYPE_NAMES[gguf.VISION_PROJECTOR_TYPE.MLP])
    writer.add_vision_image_size(p.image_size)
    writer.add_vision_patch_size(p.patch_size)
    writer.add_vision_embedding_length(p.hidden)
    writer.add_vision_feed_forward_length(p.ffn)
    writer.add_vision_projection_dim(p.text_hidden)
    writer.add_vision_block_count(n_layers)
    if p.feature_layer != n_layers - 1:  # the loader's default is the second-to-last layer
        writer.add_array("clip.vision.feature_layer", [p.feature_layer])
    writer.add_vision_head_count(p.n_head)
    writer.add_vision_attention_layernorm_eps(p.eps)
    writer.add_vision_image_mean(p.mean)
    writer.add_vision_image_std(p.std)
    writer.add_vision_use_gelu(p.gelu)

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MMPROJ, n_layers)
    plan: list[tuple[Part, str, str]] = []
    for name in ckpt.names("projector"):
        layer, _, suffix = name.rpartition(".")
        if layer not in _PROJECTOR:
            raise ExportError(
                f"{ckpt.folder}: projector tensor {ckpt.stored_key(name, 'projector')!r} is not "
                f"one of LLaVA's two linear layers ({', '.join(_PROJECTOR)})."
            )
        plan.append(("projector", name, f"mm.{_PROJECTOR[layer]}.{suffix}"))
    for name in ckpt.names("vision"):
        if name.startswith("post_layernorm") or name.endswith("position_ids"):
            continue
        # gguf's table knows the tower under the names transformers' LLaVA stores
        stored = ckpt.architecture.stored_key("vision", name)
        gguf_name = name_map.get_name(stored, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportError(f"{ckpt.folder}: no mmproj name for tensor {stored!r}.")
        plan.append(("vision", name, gguf_name))
    for part, name, gguf_name in plan:
        data = ckpt.tensor(name, part).float().numpy()
        dtype = np.float16 if outtype == "f16" and data.ndim >= 2 else np.float32
        writer.add_tensor(gguf_name, np.ascontiguousarray(data.astype(dtype)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_path
