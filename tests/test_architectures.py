"""The architecture registry: detection and key layouts, from the formats' documentation
(bunny-v1.1.md §1-§2 for Bunny; transformers' LLaVA and Llama names)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jradi_desktop.architectures import ArchitectureError, detect, get

BUNNY = {"architectures": ["BunnyLlamaForCausalLM"], "model_type": "bunny-llama"}
LLAVA = {"model_type": "llava", "text_config": {"model_type": "llama"}}
LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}


@pytest.mark.parametrize(
    ("config", "name"), [(BUNNY, "bunny_s2"), (LLAVA, "llava_clip"), (LLAMA, "llama")]
)
def test_detect(config: dict, name: str) -> None:
    assert detect(config).name == name


def test_bunny_is_detected_by_its_architecture_alone() -> None:
    assert detect({"architectures": ["BunnyLlamaForCausalLM"]}).name == "bunny_s2"


# (family, key, part, canonical name): Bunny has one name per key, LLaVA reads two
KEYS = [
    ("bunny_s2", "model.layers.3.self_attn.q_proj.weight", "language",
                 "model.layers.3.self_attn.q_proj.weight"),
    ("bunny_s2", "model.embed_tokens.weight", "language", "model.embed_tokens.weight"),
    ("bunny_s2", "lm_head.weight", "language", "lm_head.weight"),
    ("bunny_s2", "model.vision_tower.vision_tower.vision_model.encoder.layers.26.mlp.fc1.weight",
                 "vision", "encoder.layers.26.mlp.fc1.weight"),
    ("bunny_s2", "model.vision_tower.vision_tower.vision_model.head.probe", "vision", "head.probe"),
    ("bunny_s2", "model.mm_projector.0.weight", "projector", "0.weight"),
    ("bunny_s2", "model.mm_projector.2.bias", "projector", "2.bias"),
    ("llava_clip", "language_model.model.layers.0.mlp.up_proj.weight", "language",
                   "model.layers.0.mlp.up_proj.weight"),
    ("llava_clip", "model.language_model.norm.weight", "language", "model.norm.weight"),
    ("llava_clip", "language_model.lm_head.weight", "language", "lm_head.weight"),
    ("llava_clip", "lm_head.weight", "language", "lm_head.weight"),
    ("llava_clip", "vision_tower.vision_model.embeddings.patch_embedding.weight", "vision",
                   "embeddings.patch_embedding.weight"),
    ("llava_clip", "vision_tower.embeddings.patch_embedding.weight", "vision",
                   "embeddings.patch_embedding.weight"),
    ("llava_clip", "model.vision_tower.pre_layrnorm.weight", "vision", "pre_layrnorm.weight"),
    ("llava_clip", "multi_modal_projector.linear_1.weight", "projector", "linear_1.weight"),
    ("llava_clip", "model.multi_modal_projector.linear_2.bias", "projector", "linear_2.bias"),
]  # fmt: skip


@pytest.mark.parametrize(("family", "key", "part", "name"), KEYS)
def test_keys(family: str, key: str, part: str, name: str) -> None:
    arch = get(family)
    assert arch.split_key(key) == (part, name)
    assert arch.split_key(arch.stored_key(part, name)) == (part, name)
    if family == "bunny_s2":
        assert arch.stored_key(part, name) == key


def test_text_configs() -> None:
    bunny = get("bunny_s2").text_config(
        {
            **BUNNY,
            "hidden_size": 8,
            "mm_hidden_size": 24,
            "use_s2": True,
            "s2_scales": "1,2",
            "auto_map": {},
            "tokenizer_model_max_length": 4096,
        }
    )
    assert bunny == {"hidden_size": 8, "model_type": "llama", "architectures": ["LlamaForCausalLM"]}
    assert get("llava_clip").text_config(LLAVA) == {"model_type": "llama"}


def test_refusals_say_why() -> None:
    with pytest.raises(ArchitectureError, match=r"custom code, auto_map.*Supported: Bunny"):
        detect({"architectures": ["QWenLMHeadModel"], "auto_map": {"AutoModel": "x.Y"}})
    with pytest.raises(ArchitectureError, match="language tower is 'mistral'"):
        detect({"model_type": "llava", "text_config": {"model_type": "mistral"}})
    with pytest.raises(ArchitectureError, match="holds a list"):
        detect([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ArchitectureError, match="valid names: bunny_s2, llava_clip, llama"):
        get("llava")


def test_the_registry_imports_no_torch() -> None:
    code = (
        "import sys, jradi_desktop.architectures as a; a.architectures(); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_state_dict_without_its_config_is_placed_by_its_vision_keys() -> None:
    from jradi_desktop.architectures import from_keys

    live_llava = ["model.language_model.layers.0.mlp.up_proj.weight", "lm_head.weight",
                  "model.vision_tower.vision_model.embeddings.patch_embedding.weight",
                  "model.multi_modal_projector.linear_1.weight"]  # fmt: skip
    stored_bunny = ["model.layers.0.mlp.up_proj.weight", "lm_head.weight",
                    "model.vision_tower.vision_tower.vision_model.embeddings.patch_embedding.weight",
                    "model.mm_projector.0.weight"]  # fmt: skip
    live_bunny_llama = ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"]
    assert from_keys(live_llava).name == "llava_clip"
    assert from_keys(stored_bunny).name == "bunny_s2"
    assert from_keys(live_bunny_llama).name == "llama"
    parts = get("bunny_s2").parts(stored_bunny)
    assert parts["projector"] == {"0.weight": "model.mm_projector.0.weight"}
    assert parts["language"]["lm_head.weight"] == "lm_head.weight"


def test_each_family_names_its_config_model_type_and_classes() -> None:
    for arch, config in ((get("bunny_s2"), BUNNY), (get("llava_clip"), LLAVA),
                         (get("llama"), LLAMA)):  # fmt: skip
        assert arch.matches({"model_type": arch.model_type})
        assert arch.model_type == config["model_type"]
    assert get("bunny_s2").classes == ("BunnyLlamaForCausalLM",)
    with pytest.raises(ArchitectureError, match="needs a text_config object"):
        detect({"model_type": "llava"})
