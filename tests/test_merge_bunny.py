"""A Bunny-v1.1 VLM through the engine: merged with three Llama specialists (JRadiEvo and a
mergekit method), checked, exported. The checkpoint is ``bunny_checkpoint.write_bunny``'s (two
shards + index, ``auto_map`` without code, ``s2_scales`` 21,42,63), not the demo.

The JRadiEvo reference is ``test_merge.reference_merge``: REFERENCE.md §1 one step at a time,
whole tensors, float32, no code shared with the engine's merge.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from bunny_checkpoint import write_bunny
from safetensors.numpy import load_file, save_file
from test_merge import reference_merge

from engine.merge import JRadiEvoParams, MergeError, Recipe, check_folders
from engine.merge._io import open_model_folder
from jradi_desktop.architectures import get

pytestmark = pytest.mark.filterwarnings("ignore:numpy.core is deprecated:DeprecationWarning")

BUNNY = get("bunny_s2")
SPECIALISTS = ("med-a", "med-b", "ja")
PARAMS = JRadiEvoParams(0.3, (0.7, 0.8, 0.9, 0.75), (0.6, 0.3, 0.8, 0.5), 1.2)


def _shards(folder: Path) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors |= load_file(path)
    return tensors


def _llama_folder(folder: Path, bunny: Path, tensors: dict[str, np.ndarray]) -> Path:
    """A plain Llama folder with the Bunny's language shapes (config.json model_type llama)."""
    folder.mkdir()
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    config = BUNNY.text_config(json.loads((bunny / "config.json").read_text()))
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(bunny / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``vlm`` (Bunny), ``base`` (its Llama + noise) and three specialists (base + noise)."""
    root = tmp_path_factory.mktemp("bunny-merge")
    stored = write_bunny(root / "vlm", seed=3)
    language = {BUNNY.language_name(k): v for k, v in stored.items() if BUNNY.language_name(k)}
    rng = np.random.default_rng(7)

    def noisy(tensors: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
        return {k: (v + scale * rng.standard_normal(v.shape)).astype(np.float32)
                for k, v in tensors.items()}  # fmt: skip

    base = noisy(language, 0.05)
    _llama_folder(root / "base", root / "vlm", base)
    for name in SPECIALISTS:
        _llama_folder(root / name, root / "vlm", noisy(base, 0.03))
    return root


def _recipe(root: Path, **changes: object) -> Path:
    p = PARAMS
    data = {
        "base": "base",
        "models": [{"path": "vlm", "role": "vlm"}, *SPECIALISTS],
        "method": "jradievo",
        "device": "cpu",
        "parameters": {"p": p.p, "k": list(p.k), "w": list(p.w), "lambda": p.lam},
    } | changes
    path = root / f"recipe-{len(list(root.glob('recipe-*')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _language(folder: Path) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in open_model_folder(folder).language_state_dict().items()}


@pytest.fixture(scope="module")
def merged(models: Path) -> Path:
    from engine.cli import main

    out = models / "merged"
    assert main(["merge", str(_recipe(models)), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_jradievo_merge_of_a_bunny_keeps_its_image_path_bit_for_bit(
    models: Path, merged: Path
) -> None:
    source, result = _shards(models / "vlm"), _shards(merged)
    assert result.keys() == source.keys()
    parts = {BUNNY.split_key(k)[0] for k in source}
    assert parts == {"language", "vision", "projector"}
    for key in source:
        if BUNNY.split_key(key)[0] != "language":
            assert result[key].dtype == source[key].dtype
            assert result[key].tobytes() == source[key].tobytes(), key

    base = _language(models / "base")
    others = [_language(models / m) for m in ("vlm", *SPECIALISTS)]
    expected = reference_merge(base, others, PARAMS)
    got = _language(merged)
    assert got.keys() == expected.keys() == base.keys()
    assert max((got[n] - expected[n]).abs().max().item() for n in expected) <= 1e-6
    assert any(not torch.equal(got[n], base[n]) for n in base)

    # a Bunny-layout folder: the same shards, index, config and tokenizer
    same = ("config.json", "model.safetensors.index.json", "tokenizer.json",
            "generation_config.json", "special_tokens_map.json")  # fmt: skip
    for name in same:
        assert (merged / name).read_bytes() == (models / "vlm" / name).read_bytes(), name
    assert json.loads((merged / "config.json").read_text())["model_type"] == "bunny-llama"
    for shard in (models / "vlm").glob("*.safetensors"):
        assert set(load_file(merged / shard.name)) == set(load_file(shard))
    assert open_model_folder(merged).architecture.name == "bunny_s2"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_merged_bunny_writes_a_report(
    merged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from jradi_desktop.cli import main

    xray = tmp_path / "chest.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (90, 70), np.uint8)).save(xray)
    args = ["report", str(xray), "--model", str(merged), "--json", "--max-new-tokens", "8"]
    assert main(args) == 0, capsys.readouterr().err
    (line,) = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    assert isinstance(result["text"], str) and result["image"] == str(xray)


@pytest.mark.slow
def test_an_f16_bunny_stays_f16_and_its_image_path_untouched(models: Path, tmp_path: Path) -> None:
    from engine.merge import merge

    root = tmp_path / "f16"
    shutil.copytree(models, root, ignore=shutil.ignore_patterns("merged", "recipe-*"))
    for shard in (root / "vlm").glob("*.safetensors"):
        tensors = {k: v.astype(np.float16) for k, v in load_file(shard).items()}
        save_file(tensors, shard, metadata={"format": "pt"})
    merge(_recipe(root), root / "out")
    source, result = _shards(root / "vlm"), _shards(root / "out")
    assert all(result[k].dtype == np.float16 for k in result)
    for key in source:
        same = result[key].tobytes() == source[key].tobytes()
        assert same or BUNNY.split_key(key)[0] == "language", key


@pytest.mark.slow
def test_mergekit_merges_a_bunny_through_its_extracted_tower(models: Path, tmp_path: Path) -> None:
    from engine.merge import merge

    params = {"weight": [0.5] * 4, "density": [0.6] * 4}
    out = merge(_recipe(models, method="ties", parameters=params), tmp_path / "ties")
    source, result = _shards(models / "vlm"), _shards(out)
    assert result.keys() == source.keys()
    changed = {k for k in source if result[k].tobytes() != source[k].tobytes()}
    assert changed and all(BUNNY.split_key(k)[0] == "language" for k in changed)


def test_roles_follow_the_registry(models: Path) -> None:
    def recipe(**changes: object) -> Recipe:
        return Recipe.model_validate(yaml.safe_load(_recipe(models, **changes).read_text()))

    with pytest.raises(MergeError, match=r"(?s)base .*vlm: a VLM \(Bunny-v1\.1.*the base must be"):
        check_folders(recipe(base="vlm", models=[{"path": "base", "role": "vlm"}, "ja"],
                             parameters={"p": 0, "k": [0, 0], "w": [1, 1], "lambda": 1}).resolved(
            models))  # fmt: skip
    with pytest.raises(MergeError, match=r"ja: role vlm, but it is a plain Llama, not a VLM"):
        check_folders(recipe(models=[{"path": "ja", "role": "vlm"}, "med-a"],
                             parameters={"p": 0, "k": [0, 0], "w": [1, 1], "lambda": 1}).resolved(
            models))  # fmt: skip
    check_folders(recipe().resolved(models))


def _broken(models: Path, tmp_path: Path, how: str) -> Path:
    folder = tmp_path / how
    shutil.copytree(models / "vlm", folder)
    if how == "missing-shard":
        (folder / "model-00002-of-00002.safetensors").unlink()
    elif how == "vision-shape":
        index = json.loads((folder / "model.safetensors.index.json").read_text())
        key = BUNNY.stored_key("vision", "encoder.layers.1.self_attn.k_proj.weight")
        shard = folder / index["weight_map"][key]
        tensors = load_file(shard)
        tensors[key] = tensors[key][:, :-2].copy()
        save_file(tensors, shard, metadata={"format": "pt"})
    else:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(config | {"mm_hidden_size": 48}))
    return folder


BROKEN = {
    "missing-shard": r"model\.safetensors\.index\.json: names weight files that are missing "
    r"\(model-00002-of-00002\.safetensors\)",
    "vision-shape": r"model-0000\d-of-00002\.safetensors: tensor model\.vision_tower\.vision_tower"
    r"\.vision_model\.encoder\.layers\.1\.self_attn\.k_proj\.weight has shape \[24, 22\], but the "
    r"vision width 24 of .*patch_embedding\.weight call for \[24, 24\]",
    "mm-hidden-size": r"config\.json: mm_hidden_size 48 is not 3 scale\(s\) x vision width 24 = 72 "
    r"\(the vision width from .*patch_embedding\.weight in .*model-0000\d-of-00002\.safetensors\)",
}


@pytest.mark.parametrize("how", list(BROKEN))
def test_a_broken_bunny_is_refused_naming_the_file_and_the_tensor(
    models: Path, tmp_path: Path, how: str
) -> None:
    from engine.errors import ExportError
    from engine.export import export_gguf
    from jradi_desktop.models import ModelCheckError, ModelSpec, check_model

    folder = _broken(models, tmp_path, how)
    with pytest.raises(ModelCheckError, match=BROKEN[how]) as raised:
        check_model(ModelSpec("b", "hf", folder))
    assert str(folder) in raised.value.message_ja
    with pytest.raises(ExportError, match=BROKEN[how]):
        export_gguf(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    shutil.copytree(models, tmp_path / "set", ignore=shutil.ignore_patterns("merged", "vlm"))
    shutil.copytree(folder, tmp_path / "set" / "vlm")
    recipe = Recipe.model_validate(yaml.safe_load(_recipe(tmp_path / "set").read_text()))
    with pytest.raises(MergeError, match=BROKEN[how]):
        check_folders(recipe.resolved(tmp_path / "set"))


def test_a_sound_bunny_passes_the_model_check(models: Path) -> None:
    from jradi_desktop.models import ModelSpec, check_model

    check = check_model(ModelSpec("b", "hf", models / "vlm"))
    assert (check.architecture, check.embedding_length, check.layers) == ("bunny_s2", 32, 2)
    assert check.warnings == []  # auto_map is never run, so it is not worth a warning


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_export_gguf_writes_the_language_model_and_the_s2_vision_folder(
    models: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxscript")
    import gguf

    from engine.export import export_gguf
    from jradi_desktop.architectures.bunny_s2 import read_manifest
    from jradi_desktop.models import ModelSpec, check_model, find_mmproj

    result = export_gguf(models / "vlm", tmp_path / "out", "f32")
    assert result.mmproj == tmp_path / "out" / "vision" == find_mmproj(result.model)
    reader = gguf.GGUFReader(result.model)
    arch = reader.fields["general.architecture"].contents()
    language = [k for k in _shards(models / "vlm") if BUNNY.split_key(k)[0] == "language"]
    assert arch == "llama" and len(reader.tensors) == len(language)
    manifest = read_manifest(result.mmproj)
    assert manifest.scales == (21, 42, 63) and manifest.embedding_width == 32
    check = check_model(ModelSpec("g", "gguf", result.model, mmproj=result.mmproj))
    assert check.embedding_length == 32
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "export.json", "model.gguf", "vision"]  # fmt: skip
