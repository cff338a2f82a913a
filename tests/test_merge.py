"""The merge engine: JRadiEvo DARE + TIES against a plain reference, the in-place fast path,
the VLM tower round trip and ``jradi-engine merge``."""

import json
import shutil

import pytest
import torch
from merge_helpers import _recipe

from engine.merge import (
    JRadiEvoParams,
    MergeContext,
    MergeError,
    language_targets,
    merge_state_dicts,
    splice_language_tower,
)
from engine.merge._dare import dare_keep, dare_uniform, hash32
from engine.merge._io import open_model_folder
from engine.merge._select import kth_smallest_magnitudes
from engine.merge._task_vectors import task_vectors
from engine.merge._vlm import extract_language_tower

# mergekit 0.1.5 imports numpy.core (deprecated) when first loaded; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:numpy.core is deprecated:DeprecationWarning")

MODELS = ("vlm", "med-a", "med-b", "ja")  # the VLM's tower + the three LLMs, as in JRadiEvo

PARAM_SETS = {
    "dare-and-ties": JRadiEvoParams(0.3, (0.7, 0.8, 0.9, 0.75), (0.6, 0.3, 0.8, 0.5), 1.2),
    "p0-k0": JRadiEvoParams(0.0, (0.0, 0.0, 0.0, 0.0), (1.0, 0.5, 0.25, 0.75), 1.0),
    "mixed-edges": JRadiEvoParams(0.9, (0.0, 1.0, 0.95, 0.5), (0.4, 1.0, 0.0, 0.7), 0.5),
    "high-trim": JRadiEvoParams(0.1, (0.99, 0.97, 0.98, 0.995), (1.0, 1.0, 1.0, 1.0), 2.0),
    "k1-gives-base": JRadiEvoParams(0.5, (1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0), 2.0),
    "lambda0-gives-base": JRadiEvoParams(0.2, (0.6, 0.6, 0.6, 0.6), (0.5, 0.5, 0.5, 0.5), 0.0),
    "p1-gives-base": JRadiEvoParams(1.0, (0.3, 0.3, 0.3, 0.3), (0.5, 0.5, 0.5, 0.5), 1.0),
}
GIVES_BASE = ("k1-gives-base", "lambda0-gives-base", "p1-gives-base")


# --- a plain reference, written from REFERENCE.md §1 -------------------------------------


def reference_merge(base, models, params, seed=42):
    """JRadiEvo as REFERENCE.md §1 states it, one step at a time, whole tensors, float32.

    The drop pattern is the engine's documented one (``dare_keep``: seed 42, restarted at each
    tensor); that function is checked separately against a pure-Python hash below.
    """
    names = [n for n in base if base[n].is_floating_point()]
    n_total = sum(base[n].numel() for n in names)
    # 1. task vectors by name; a missing parameter contributes zeros
    taus = [
        {n: m[n].float() - base[n].float() if n in m else torch.zeros_like(base[n]) for n in names}
        for m in models
    ]
    # 2. DARE drop (the same pattern in every model); rescaling comes after the trim's ranking
    keep = {n: dare_keep(0, base[n].numel(), params.p, seed).view(base[n].shape) for n in names}
    dropped = [{n: tau[n] * keep[n] for n in names} for tau in taus]
    # 3. TIES trim: one threshold per model over its whole flattened vector
    trimmed = []
    for i, vec in enumerate(dropped):
        m = int(params.k[i] * n_total)
        if m == 0:
            trimmed.append(dict(vec))
            continue
        magnitudes = torch.cat([vec[n].abs().flatten() for n in names]).sort().values
        threshold = magnitudes[m - 1]
        trimmed.append({n: torch.where(vec[n].abs() > threshold, vec[n], 0.0) for n in names})
    rescale = 0.0 if params.p == 1 else 1.0 / (1.0 - params.p)
    trimmed = [{n: t[n] * rescale for n in names} for t in trimmed]
    # 4. sign election from the plain sum; zero sums take the majority of the elected signs
    sums = {n: torch.stack([t[n] for t in trimmed]).sum(dim=0) for n in names}
    majority = torch.sign(sum(torch.sign(sums[n]).sum() for n in names))
    elected = {n: torch.where(sums[n] == 0, majority, torch.sign(sums[n])) for n in names}
    # 5. disjoint merge: weighted sum of agreeing values / unweighted count of agreeing models
    out = {}
    for n in names:
        total = torch.zeros_like(sums[n])
        count = torch.zeros_like(sums[n])
        for t, w in zip(trimmed, params.w, strict=True):
            agree = (torch.sign(t[n]) == elected[n]) & (t[n] != 0)
            total += torch.where(agree, w * t[n], 0.0)
            count += agree.float()
        merged = total / torch.clamp(count, min=1)
        # 6. theta = theta_base + lambda * tau_merged
        out[n] = base[n].float() + params.lam * merged
    return out


def _python_u(j, seed=42):
    key = hash32(seed ^ hash32(j >> 32))
    return hash32((j + key) & 0xFFFFFFFF)


# --- fast, no models ----------------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 12345, 2**32 - 6])
def test_dare_mask_is_the_documented_hash(start):
    u = dare_uniform(start, 12)
    assert u.tolist() == [_python_u(j) for j in range(start, start + 12)]
    keep = dare_keep(start, 12, 0.5)
    assert keep.tolist() == [_python_u(j) >= 2**31 for j in range(start, start + 12)]


def test_dare_mask_is_seeded_per_tensor_and_chunkable():
    whole = dare_keep(0, 100_000, 0.3)
    pieces = torch.cat([dare_keep(s, 1000, 0.3) for s in range(0, 100_000, 1000)])
    assert torch.equal(whole, pieces)
    assert abs(whole.float().mean().item() - 0.7) < 0.01
    assert not torch.equal(whole, dare_keep(0, 100_000, 0.3, seed=7))
    assert dare_keep(0, 50, 0.0).all() and not dare_keep(0, 50, 1.0).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_global_threshold_is_exact(dtype):
    gen = torch.Generator().manual_seed(0)
    chunks = [(torch.randn(n, generator=gen) * 0.01).abs().to(dtype) for n in (500, 1, 3000)]
    chunks[0][:100] = 0  # many zeros, as after DARE
    chunks[2][:50] = chunks[2][50]  # ties
    flat = torch.cat(chunks).float()
    ranks = [1, 100, 101, 1234, flat.numel(), None]
    found = kth_smallest_magnitudes(lambda: iter([[c] * len(ranks) for c in chunks]), ranks, dtype)
    for rank, value in zip(ranks, found, strict=True):
        assert value == (None if rank is None else torch.kthvalue(flat, rank).values.item())


def _tie_case(deltas, weights):
    base = {"a": torch.tensor([10.0]), "b": torch.zeros(4)}
    models = [{n: base[n] + d for n, d in delta.items()} for delta in deltas]
    params = JRadiEvoParams(0.0, (0.0,) * len(models), weights, 1.0)
    plain = merge_state_dicts(base, models, params)
    for chunk_size in (1, 2, 64):  # one chunk per element; "a" alone; "a" and "b" packed
        fast = MergeContext(base, models, chunk_size=chunk_size).merged_state_dict(params)
        assert all(torch.equal(plain[n], fast[n]) for n in base), chunk_size
    return plain


def test_sign_ties_follow_the_majority_of_elected_signs():
    # b sums to [0, 0, 5, 0]: elected signs total +1, so the two ties keep the positive values
    m1 = {"b": torch.tensor([1.0, -1.0, 2.0, 0.0])}
    m2 = {"b": torch.tensor([-1.0, 1.0, 3.0, 0.0])}
    out = _tie_case([m1, m2], (0.5, 1.0))
    assert out["b"].tolist() == [0.5, 1.0, 2.0, 0.0]  # (0.5*2 + 1*3) / 2 = 2
    assert out["a"].tolist() == [10.0]  # a is in neither model: zeros, the base stays

    # a ties (+1, -1); b decides the majority (negative) although a comes first
    m1 = {"a": torch.tensor([1.0]), "b": torch.tensor([-1.0, -1.0, -1.0, 2.0])}
    m2 = {"a": torch.tensor([-1.0]), "b": torch.tensor([0.0, 0.0, 0.0, 0.0])}
    out = _tie_case([m1, m2], (1.0, 1.0))
    assert out["a"].tolist() == [9.0] and out["b"].tolist() == [-1.0, -1.0, -1.0, 2.0]

    # elected signs total 0: a tie keeps nothing
    m1 = {"b": torch.tensor([1.0, 2.0, -1.0, 0.0])}
    m2 = {"b": torch.tensor([-1.0, -1.0, -1.0, 0.0])}
    out = _tie_case([m1, m2], (1.0, 1.0))
    assert out["b"].tolist() == [0.0, 2.0, -1.0, 0.0]


def test_trim_uses_one_threshold_over_the_whole_model():
    base = {"x": torch.zeros(4), "y": torch.zeros(4)}
    model = {"x": torch.tensor([1.0, 2.0, 3.0, 4.0]), "y": torch.tensor([0.1, 0.2, 0.3, 0.4])}
    out = merge_state_dicts(base, [model], JRadiEvoParams(0.0, (0.5,), (1.0,), 1.0))
    assert out["y"].tolist() == [0, 0, 0, 0]  # a per-tensor threshold would keep 0.3 and 0.4
    assert out["x"].tolist() == [1, 2, 3, 4]


def test_task_vector_shape_mismatch_names_the_tensor_and_models():
    base = {"embed": torch.zeros(8, 4)}
    with pytest.raises(MergeError, match=r"'embed' has shape \[9, 4\] in ja but \[8, 4\] in"):
        task_vectors(base, [{"embed": torch.zeros(9, 4)}], model_labels=["ja"])


def test_jradievo_parameters_are_range_checked():
    with pytest.raises(MergeError, match=r"lambda = 2\.5 is out of range \[0, 2\]"):
        JRadiEvoParams(0.1, (0.1,), (0.1,), 2.5)
    with pytest.raises(MergeError, match=r"one k and one w per model; got 2 k and 1 w"):
        JRadiEvoParams(0.1, (0.1, 0.2), (0.1,), 1.0)
    vector = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.5]
    assert JRadiEvoParams.from_vector(vector).to_vector() == vector


# --- on the demo models -----------------------------------------------------------------


@pytest.fixture(scope="module")
def weights(demo_dir):
    base = open_model_folder(demo_dir / "base").language_state_dict()
    models = [open_model_folder(demo_dir / m).language_state_dict() for m in MODELS]
    return base, models


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PARAM_SETS))
def test_jradievo_equals_the_plain_reference(weights, name):
    base, models = weights
    params = PARAM_SETS[name]
    merged = merge_state_dicts(base, models, params)
    expected = reference_merge(base, models, params)
    assert merged.keys() == base.keys()
    worst = max((merged[n] - expected[n]).abs().max().item() for n in base)
    assert worst <= 1e-6
    changed = any(not torch.equal(merged[n], base[n]) for n in base)
    assert changed == (name not in GIVES_BASE)
    if name in GIVES_BASE:
        assert all(torch.equal(merged[n], base[n]) for n in base)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_fast_path_equals_merge_state_dicts(weights, dtype):
    base, models = weights
    context = MergeContext(base, models, dtype=dtype, chunk_size=3000)
    names = (
        list(PARAM_SETS) if dtype == "float32" else ["dare-and-ties", "mixed-edges", "high-trim"]
    )
    for params in (PARAM_SETS[n] for n in names):
        plain = merge_state_dicts(base, models, params, dtype=dtype)
        fast = context.merged_state_dict(params)
        assert all(torch.equal(plain[n], fast[n]) for n in base), params


@pytest.mark.slow
@pytest.mark.parametrize("chunk_size", [1 << 22, 1 << 16, 3000])
def test_packed_small_tensors_merge_like_separate_ones(weights, chunk_size):
    # Small tensors share flat buffers; one model lacks a tensor inside a packed run (zeros
    # in its buffer), another lacks a whole packed run (no buffer at all).
    base, models = weights
    packs = [s.names for s in MergeContext(base, models, chunk_size=chunk_size)._segments]
    packs = [names for names in packs if len(names) > 1]
    assert packs
    models = [dict(m) for m in models]
    del models[1][packs[0][-1]]
    for name in packs[-1]:
        del models[3][name]
    context = MergeContext(base, models, chunk_size=chunk_size)
    assert context.resident_bytes()["cpu"] < 5 * sum(t.numel() * 4 for t in base.values())
    held = {n: t.clone() for n, t in context._base.items()}
    for name in ("dare-and-ties", "mixed-edges", "p0-k0"):
        plain = merge_state_dicts(base, models, PARAM_SETS[name])
        fast = context.merged_state_dict(PARAM_SETS[name])
        assert all(torch.equal(plain[n], fast[n]) for n in base), name
        assert all(fast[n].dtype == base[n].dtype for n in base)
    assert all(torch.equal(held[n], base[n]) for n in base)  # the context's copy is untouched


@pytest.mark.slow
def test_fast_path_writes_into_a_live_vlm_in_place(demo_dir, weights):
    from transformers import AutoModelForImageTextToText

    base, models = weights
    context = MergeContext.from_folders(demo_dir / "base", [demo_dir / m for m in MODELS])
    vlm = AutoModelForImageTextToText.from_pretrained(demo_dir / "vlm")
    vision = {k: v.clone() for k, v in vlm.state_dict().items() if "language" not in k}
    state = vlm.state_dict()
    keys = language_targets(state)
    for name in ("dare-and-ties", "mixed-edges"):
        params = PARAM_SETS[name]
        stats = context.merge_into(vlm, params)
        assert stats.majority in (-1, 1) and len(stats.thresholds) == 4
        plain = merge_state_dicts(base, models, params)
        assert all(torch.equal(state[keys[n]], plain[n]) for n in plain)
    after = vlm.state_dict()
    assert all(torch.equal(after[k], v) for k, v in vision.items() if k not in keys.values())


@pytest.mark.slow
def test_vlm_tower_round_trip_gives_identical_weights(demo_dir, tmp_path):
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    tower = extract_language_tower(demo_dir / "vlm", tmp_path / "tower")
    model = LlamaForCausalLM.from_pretrained(tower)
    source = load_file(demo_dir / "vlm" / "model.safetensors")
    assert torch.equal(
        model.model.layers[1].mlp.up_proj.weight,
        source["language_model.model.layers.1.mlp.up_proj.weight"],
    )
    again = splice_language_tower(demo_dir / "vlm", tower, tmp_path / "again")
    result = load_file(again / "model.safetensors")
    assert result.keys() == source.keys()
    assert all(torch.equal(result[k], source[k]) for k in source)
    assert (again / "processor_config.json").read_bytes() == (
        demo_dir / "vlm" / "processor_config.json"
    ).read_bytes()
    with pytest.raises(
        MergeError, match=r"'llama' is a language .*, not a VLM; .* folder: Bunny-v1\.1"
    ):
        extract_language_tower(demo_dir / "base", tmp_path / "nope")


def _events(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.slow
def test_cli_merges_a_vlm_recipe_that_loads_and_generates(demo_dir, weights, tmp_path, capsys):
    import yaml
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from engine.cli import main

    params = PARAM_SETS["dare-and-ties"]
    parameters = {"p": params.p, "k": list(params.k), "w": list(params.w), "lambda": params.lam}
    recipe = _recipe(device="cpu", parameters=parameters)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    shutil.copytree(demo_dir, tmp_path, dirs_exist_ok=True)  # relative paths in the recipe
    out = tmp_path / "merged"
    assert main(["merge", str(path), "--out", str(out), "--events", "jsonl"]) == 0
    events = _events(capsys)
    assert events[-1]["kind"] == "result" and events[-1]["data"]["vlm"] is True
    steps = [e["step"] for e in events if e["kind"] == "progress"]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 4  # read, trim, ..., write
    saved = yaml.safe_load((out / "jradi_recipe.yaml").read_text())
    assert saved["parameters"]["lambda"] == 1.2 and saved["base"] == str(tmp_path / "base")

    model = AutoModelForImageTextToText.from_pretrained(out)
    processor = AutoProcessor.from_pretrained(out)
    base, models = weights
    expected = merge_state_dicts(base, models, PARAM_SETS["dare-and-ties"])
    state = model.state_dict()
    keys = language_targets(state)
    assert all(torch.equal(state[keys[n]], expected[n]) for n in expected)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "所見"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(images=Image.new("RGB", (48, 48), "gray"), text=prompt, return_tensors="pt")
    generated = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == inputs["input_ids"].shape[1] + 4

    assert main(["merge", str(path), "--out", str(out)]) == 1  # never overwrites
    assert "already exists and is not an empty folder" in capsys.readouterr().err
