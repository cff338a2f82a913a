"""The demo VLM in the LLaVA-1.5 layout: a CLIP vision tower, a two-layer GELU projector and
the demo Llama, with a processor that ``AutoProcessor`` loads and the runtime's Bunny template
(Vicuna-style, the prompt JRadiEvo was trained with). The layout of llama.cpp's ``mmproj``
path and its tests; the default demo VLM is Bunny's (``engine._demo_bunny``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jradi_desktop.architectures import get
from jradi_desktop.architectures.bunny_s2 import BUNNY_CHAT_TEMPLATE

if TYPE_CHECKING:
    import torch

    from engine._demo_bunny import Init
    from engine.demo import DemoShape


def build_llava(
    shape: DemoShape,
    text_config: object,
    language_weights: dict[str, torch.Tensor],
    tokenizer: object,
    init: Init,
) -> tuple[object, object]:
    """The model, its language tower ``language_weights`` and every other tensor from
    ``init`` (part ``"vision"``), and its processor."""
    from transformers import (
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip import CLIPImageProcessorPil

    vision_config = CLIPVisionConfig(
        hidden_size=shape.vision_hidden,
        intermediate_size=shape.vision_intermediate,
        num_hidden_layers=shape.vision_layers,
        num_attention_heads=shape.vision_heads,
        image_size=shape.image_size,
        patch_size=shape.patch_size,
        projection_dim=shape.vision_hidden,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
    )
    image_token = tokenizer.image_token
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=tokenizer.convert_tokens_to_ids(image_token),
        projector_hidden_act="gelu",
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        image_seq_length=(shape.image_size // shape.patch_size) ** 2,
        multimodal_projector_bias=True,
        tie_word_embeddings=False,
    )
    model = LlavaForConditionalGeneration(config)
    arch = get("llava_clip")
    weights = {}
    for name, tensor in model.state_dict().items():
        language = arch.language_name(name)
        if language is not None:
            weights[name] = language_weights[language]
        else:
            weights[name] = init(tuple(tensor.shape), "vision", name)
    model.load_state_dict(weights, strict=True)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": shape.image_size},
        crop_size={"height": shape.image_size, "width": shape.image_size},
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=shape.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token=image_token,
        chat_template=BUNNY_CHAT_TEMPLATE,
    )
    return model, processor
