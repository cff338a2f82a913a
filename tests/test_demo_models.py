import hashlib
import json

import pytest
import torch

from engine.demo import ALL_ROLES, IMAGE, build_demo_models

pytestmark = pytest.mark.slow


def _hashes(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_cli_with_the_same_seed_gives_identical_files(demo_dir, tmp_path):
    from engine.cli import main

    assert main(["demo-models", str(tmp_path / "again"), "--seed", "0", "--vlm", "llava"]) == 0
    assert _hashes(tmp_path / "again") == _hashes(demo_dir)


def test_the_cli_writes_the_bunny_flavour_by_default():
    from engine.cli import build_parser

    args = build_parser().parse_args(["demo-models", "out"])
    assert args.vlm == "bunny"


def test_other_seed_gives_other_weights(demo_dir, tmp_path):
    other = build_demo_models(tmp_path / "other", seed=1)
    a, b = _hashes(demo_dir), _hashes(other)
    assert a["base/model.safetensors"] != b["base/model.safetensors"]
    assert a["base/tokenizer.json"] == b["base/tokenizer.json"]  # same corpus, same tokenizer


def test_every_folder_loads_offline_with_from_pretrained(demo_dir):
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )

    for role in ("base", "med-a", "med-b", "ja"):
        model = AutoModelForCausalLM.from_pretrained(demo_dir / role)
        cfg = model.config
        assert cfg.model_type == "llama"
        assert cfg.num_key_value_heads < cfg.num_attention_heads  # grouped-query attention
        assert json.loads((demo_dir / role / "jradi_demo.json").read_text())["demo"] is True
    vlm = AutoModelForImageTextToText.from_pretrained(demo_dir / "vlm")
    assert vlm.config.model_type == "llava"
    assert vlm.config.vision_config.model_type == "clip_vision_model"
    processor = AutoProcessor.from_pretrained(demo_dir / "vlm")
    tokenizer = AutoTokenizer.from_pretrained(demo_dir / "vlm")
    assert tokenizer.convert_tokens_to_ids(IMAGE) == vlm.config.image_token_index
    assert processor.image_token == IMAGE


def test_specialists_carry_distinct_task_vectors(demo_dir):
    from safetensors.torch import load_file

    base = load_file(demo_dir / "base" / "model.safetensors")
    deltas = {}
    for role in ("med-a", "med-b", "ja"):
        weights = load_file(demo_dir / role / "model.safetensors")
        assert weights.keys() == base.keys()
        deltas[role] = torch.cat([(weights[k] - base[k]).flatten() for k in sorted(base)])
        assert deltas[role].abs().max() > 0
    assert not torch.equal(deltas["med-a"], deltas["med-b"])
    assert not torch.equal(deltas["med-a"], deltas["ja"])


def test_vlm_language_tower_is_a_perturbed_base(demo_dir):
    from safetensors.torch import load_file

    base = load_file(demo_dir / "base" / "model.safetensors")
    vlm = load_file(demo_dir / "vlm" / "model.safetensors")
    tower = vlm["language_model.model.layers.0.self_attn.q_proj.weight"]
    reference = base["model.layers.0.self_attn.q_proj.weight"]
    assert tower.shape == reference.shape
    assert 0 < (tower - reference).abs().max() < 0.5


def test_chat_templates(demo_dir):
    from transformers import AutoProcessor, AutoTokenizer

    text = AutoTokenizer.from_pretrained(demo_dir / "base").apply_chat_template(
        [{"role": "user", "content": "質問"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    prompt = AutoProcessor.from_pretrained(demo_dir / "vlm").apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "所見"}]}],
        add_generation_prompt=True,
    )
    assert prompt.endswith("USER: <image>\n所見 ASSISTANT:")


def test_all_roles_written(demo_dir):
    assert sorted(p.name for p in demo_dir.iterdir()) == sorted(ALL_ROLES)


# -- the VLM in Bunny-v1.1's layout (--vlm bunny) -------------------------------------------


def test_bunny_cli_with_the_same_seed_gives_identical_files(bunny_demo_dir, tmp_path):
    from engine.cli import main

    again = tmp_path / "again"
    assert main(["demo-models", str(again), "--seed", "0", "--vlm", "bunny"]) == 0
    assert _hashes(again) == _hashes(bunny_demo_dir)
    # only the vlm differs from the LLaVA flavour's folders
    llava = build_demo_models(tmp_path / "llava", seed=0, vlm="llava")
    differ = {name.split("/")[0] for name, h in _hashes(llava).items()
              if _hashes(again).get(name) != h}  # fmt: skip
    assert differ == {"vlm"}


def test_bunny_vlm_has_bunnys_files_config_and_every_key(bunny_demo_dir):
    from safetensors import safe_open
    from safetensors.torch import load_file

    from engine.demo import DemoShape
    from jradi_desktop.architectures import detect

    folder, shape = bunny_demo_dir / "vlm", DemoShape()
    names = {p.name for p in folder.iterdir()}
    expected = {"config.json", "generation_config.json", "special_tokens_map.json",
                "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json",
                "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}  # fmt: skip
    assert expected <= names
    config = json.loads((folder / "config.json").read_text())
    assert detect(config).name == "bunny_s2"
    assert config["architectures"] == ["BunnyLlamaForCausalLM"]
    assert config["model_type"] == "bunny-llama" and config["auto_map"]
    assert config["use_s2"] is True and config["s2_scales"] == "56,112,168"
    assert config["mm_projector_type"] == "mlp2x_gelu" and config["image_aspect_ratio"] == "pad"
    assert config["mm_hidden_size"] == 3 * shape.vision_hidden
    assert config["vision_config"]["num_attention_heads"] == shape.vision_heads
    assert config["vision_config"]["layer_norm_eps"] == 1e-6
    assert config["torch_dtype"] == "float16" and config["rope_theta"] == 500000.0
    generation = json.loads((folder / "generation_config.json").read_text())
    assert len(generation["eos_token_id"]) == 2  # end_of_text and eot, as v1.1's update
    special = json.loads((folder / "special_tokens_map.json").read_text())
    assert special["bos_token"]["content"] == "<|begin_of_text|>"

    index = json.loads((folder / "model.safetensors.index.json").read_text())
    keys, total = {}, 0
    for shard in sorted(set(index["weight_map"].values())):
        with safe_open(str(folder / shard), framework="pt") as f:
            assert f.metadata() == {"format": "pt"}
            for key in f.keys():  # noqa: SIM118
                keys[key] = shard
                tensor = f.get_tensor(key)
                assert tensor.dtype == torch.float16, key
                total += tensor.numel() * 2
    assert keys == index["weight_map"] and total == index["metadata"]["total_size"]
    vision = "model.vision_tower.vision_tower.vision_model."
    last = shape.vision_layers - 1  # stored although Bunny never reads it (§7)
    for name in (f"encoder.layers.{last}.mlp.fc2.weight", "post_layernorm.weight",
                 "head.probe", "head.attention.in_proj_weight", "head.mlp.fc1.weight"):  # fmt: skip
        assert vision + name in keys
    assert {k for k in keys if k.startswith("model.mm_projector.")} == {
        f"model.mm_projector.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")
    }
    language = set(load_file(bunny_demo_dir / "base" / "model.safetensors"))  # the base's names
    arch = detect(config)
    assert {k for k in keys if arch.split_key(k)[0] == "language"} == language
    assert all(arch.split_key(k) is not None for k in keys)


def test_bunny_vlm_language_tower_is_a_perturbed_base(bunny_demo_dir):
    from safetensors.torch import load_file

    base = load_file(bunny_demo_dir / "base" / "model.safetensors")
    tower = load_file(bunny_demo_dir / "vlm" / "model-00001-of-00002.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    delta = tower[name].float() - base[name]
    assert 0.01 < delta.abs().max() < 0.5  # its own task vector, beyond F16 rounding
    ja = load_file(bunny_demo_dir / "ja" / "model.safetensors")[name] - base[name]
    assert not torch.allclose(delta, ja, atol=1e-3)


def test_bunny_vlm_runs_without_custom_code(bunny_demo_dir):
    from PIL import Image

    from engine.demo import DemoShape
    from jradi_desktop.architectures.bunny_s2 import load_bunny

    model = load_bunny(bunny_demo_dir / "vlm")
    shape = DemoShape()
    assert model.settings.scales == shape.s2_scales and model.settings.patch == 14
    assert model.image_tokens == (shape.s2_scales[0] // 14) ** 2 == 16
    with torch.inference_mode():
        rows = model.image_rows(model.pixels(Image.new("RGB", (300, 200), (40, 90, 160))))
    assert rows.shape == (1, 16, shape.hidden_size) and bool(torch.isfinite(rows).all())


def test_trained_bunny_writes_a_japanese_report(tmp_path):
    import numpy as np
    from PIL import Image
    from transformers import PreTrainedTokenizerFast

    from engine.demo_data import phantom
    from jradi_desktop.architectures.bunny_s2 import load_bunny, prompt_ids
    from jradi_desktop.inference import BUNNY_CHAT_TEMPLATE, build_report_messages

    folder = build_demo_models(tmp_path, seed=0, trained=True, vlm="bunny") / "vlm"
    assert json.loads((folder / "jradi_demo.json").read_text())["trained"] is True
    model = load_bunny(folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    text = tokenizer.apply_chat_template(
        build_report_messages(), chat_template=BUNNY_CHAT_TEMPLATE, add_generation_prompt=True,
        tokenize=False,
    )  # fmt: skip
    ids = prompt_ids(text, lambda chunk: tokenizer(chunk).input_ids, tokenizer.bos_token_id)
    pixels = (phantom(1, np.random.default_rng(0)) * 255).astype(np.uint8)
    image = Image.fromarray(pixels).convert("RGB")
    with torch.inference_mode():
        embeds = model.embed(ids, model.image_rows(model.pixels(image)))
        out = model.language.generate(
            inputs_embeds=embeds, attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long),
            max_new_tokens=40, do_sample=False,
        )  # fmt: skip
    report = tokenizer.decode(out[0], skip_special_tokens=True).strip()
    assert report.startswith("所見：") and "認め" in report, report
