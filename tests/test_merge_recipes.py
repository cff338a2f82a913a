"""Merge recipes and their errors, mergekit methods offline, and the model folders a merge
refuses."""

import json
import shutil

import pytest
import torch
from merge_helpers import _recipe

from engine.merge import MergeError, Recipe, iter_merge, load_recipe
from engine.merge._io import open_model_folder
from engine.merge._mergekit import mergekit_configuration, run_mergekit

# mergekit 0.1.5 imports numpy.core (deprecated) when first loaded; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:numpy.core is deprecated:DeprecationWarning")


# --- recipes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"models": [{"path": "a", "role": "vlm"}, {"path": "b", "role": "vlm"}]}, "at most one"),
        ({"parameters": {"p": 1.5, "k": [0.5] * 4, "w": [0.5] * 4, "lambda": 1.0}},
         r"parameters\.p = 1\.5 must be a number in \[0, 1\]"),
        ({"parameters": {"p": 0.1, "k": [0.5] * 3, "w": [0.5] * 4, "lambda": 1.0}},
         r"parameters\.k = \[0\.5, 0\.5, 0\.5\] must be a list of 4 numbers, one per model"),
        ({"parameters": {"p": 0.1, "k": [0.5] * 4, "w": [0.5] * 4, "lambda": 3}},
         r"parameters\.lambda = 3 must be a number in \[0, 2\]"),
        ({"parameters": {"p": 0.1}}, r"jradievo needs exactly p, k, w, lambda \(missing: \['k'"),
        ({"method": "magic"}, r"method 'magic' is not known; choose one of \['jradievo'"),
        ({"method": "slerp", "parameters": {"t": 0.5}}, "slerp merges the base with exactly 1"),
        ({"method": "ties", "parameters": {"density": [0.5, 0.5, 2.0, 0.5]}},
         r"parameters\.density\[2\] = 2\.0 must be a number in \[0, 1\]"),
        ({"models": ["base", "ja"], "parameters": {}}, "base listed more than once"),
        ({"device": "gpu"}, "device 'gpu' must be auto, cpu, cuda or cuda:N"),
        ({"lamda": 1.0}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_recipe_errors_say_what_and_how(changes, message):
    with pytest.raises(ValueError, match=message):
        Recipe.model_validate(_recipe(**changes))


def test_recipe_reports_every_problem_at_once():
    bad = _recipe(device="tpu", parameters={"p": -1, "k": [0.5] * 4, "w": [2] * 4, "lambda": 1})
    with pytest.raises(ValueError, match=r"has 6 problem\(s\)") as info:
        Recipe.model_validate(bad)
    assert "w[3] = 2" in str(info.value) and "device 'tpu'" in str(info.value)


def test_load_recipe_resolves_paths_and_names_the_file(tmp_path):
    import yaml

    path = tmp_path / "レシピ.yaml"
    path.write_text(yaml.safe_dump(_recipe()), encoding="utf-8")
    recipe = load_recipe(path)
    assert recipe.base == tmp_path / "base" and recipe.vlm.path == tmp_path / "vlm"
    assert recipe.jradievo_params().k == (0.5,) * 4
    path.write_text(yaml.safe_dump(_recipe(dtype="float64")), encoding="utf-8")
    with pytest.raises(MergeError, match=r"レシピ\.yaml: invalid recipe\ndtype: Input should be"):
        load_recipe(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(MergeError, match="a recipe is a YAML mapping"):
        load_recipe(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "models", "parameters"),
    [
        ("linear", ["base", "base-copy"], {"weight": [0.3, 0.7]}),
        ("task_arithmetic", ["med-a", "ja"], {"weight": [0.5, 0.5], "lambda": 1.0}),
        ("ties", ["med-a", "med-b", "ja"], {"weight": [0.5] * 3, "density": [0.5, 0.7, 0.9]}),
        ("dare_ties", ["med-a", "ja"], {"weight": [0.5, 0.5], "density": [0.5, 0.7]}),
        ("slerp", ["ja"], {"t": 0.5}),
    ],
)
def test_mergekit_methods_run_offline(demo_dir, tmp_path_factory, method, models, parameters):
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.getbasetemp() / "base-copy"
    if not root.exists():  # an identical model under another name: mergekit refuses duplicates
        shutil.copytree(demo_dir / "base", root)
    paths = [root if m == "base-copy" else demo_dir / m for m in models]
    config = mergekit_configuration(method, demo_dir / "base", paths, parameters)
    out = run_mergekit(config, tmp_path_factory.mktemp(method), seed=42)
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert not (out / "README.md").exists()
    base = AutoModelForCausalLM.from_pretrained(demo_dir / "base").state_dict()
    same = all(torch.equal(v, base[k]) for k, v in merged.state_dict().items())
    assert same == (method == "linear")


@pytest.mark.slow
def test_mergekit_vlm_recipe_splices_the_merged_tower(demo_dir, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    recipe = Recipe.model_validate(
        _recipe(method="ties", device="cpu", parameters={"weight": [0.5] * 4, "density": [0.6] * 4})
    ).resolved(demo_dir)
    events = list(iter_merge(recipe, tmp_path / "ties-vlm"))
    assert events[-1].kind == "result"
    AutoModelForImageTextToText.from_pretrained(tmp_path / "ties-vlm")
    merged = load_file(tmp_path / "ties-vlm" / "model.safetensors")
    source = load_file(demo_dir / "vlm" / "model.safetensors")
    assert merged.keys() == source.keys()
    for key in source:
        same = torch.equal(merged[key], source[key])
        assert same == (not key.startswith("language_model.")), key
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging left


@pytest.mark.slow
def test_folder_problems_are_reported_together(demo_dir, tmp_path):
    recipe = Recipe.model_validate(
        _recipe(models=[{"path": "base-missing"}, {"path": "ja", "role": "vlm"}, "vlm"],
                parameters={"p": 0, "k": [0] * 3, "w": [1] * 3, "lambda": 1})
    ).resolved(demo_dir)  # fmt: skip
    with pytest.raises(MergeError, match=r"(?s)base-missing: not a folder.*plain Llama.*role: vlm"):
        list(iter_merge(recipe, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def _config_only(folder, config):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_custom_code_checkpoint_is_refused_as_such(tmp_path):
    folder = _config_only(
        tmp_path / "custom",
        {
            "model_type": "my_llama",
            "architectures": ["LlamaForCausalLM"],
            "auto_map": {"AutoModelForCausalLM": "modeling_my.MyLlamaForCausalLM"},
        },
    )
    with pytest.raises(MergeError) as raised:
        open_model_folder(folder)
    message = str(raised.value)
    assert message.startswith(
        f"{folder}: model_type 'my_llama' needs the checkpoint's own Python code "
        "(config.json auto_map: AutoModelForCausalLM), which JRadi never runs, so it cannot be "
        "merged. Supported: Bunny-v1.1 / v1.0"
    )
    assert "'LlamaForCausalLM' cannot be merged" not in message
    plain = _config_only(tmp_path / "plain", {"model_type": "my_llama",
                                              "architectures": ["LlamaForCausalLM"]})  # fmt: skip
    with pytest.raises(MergeError, match=r"names 'LlamaForCausalLM', but its model_type is "
                       r"'my_llama', not 'llama'"):  # fmt: skip
        open_model_folder(plain)


def test_merge_names_a_config_field_of_the_wrong_type(tmp_path):
    folder = _config_only(tmp_path / "m", {"model_type": "llama", "hidden_size": "64"})
    with pytest.raises(MergeError, match=r'm/config\.json: field hidden_size is "64"; it must be'):
        open_model_folder(folder)


def test_a_known_family_that_cannot_run_says_why(tmp_path):
    folder = _config_only(
        tmp_path / "mistral-llava",
        {"model_type": "llava", "text_config": {"model_type": "mistral", "hidden_size": 8}},
    )
    with pytest.raises(MergeError, match=r"mistral-llava: its language tower is 'mistral'; "
                       r"supported: a Llama; it cannot be merged\.$"):  # fmt: skip
        open_model_folder(folder)
