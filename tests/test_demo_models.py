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

    assert main(["demo-models", str(tmp_path / "again"), "--seed", "0"]) == 0
    assert _hashes(tmp_path / "again") == _hashes(demo_dir)


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
