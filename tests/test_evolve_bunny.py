"""The evolutionary search with a Bunny VLM: image rows computed once for every trial, and a
killed run resumed to its trial count and exported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from evolve_helpers import MODELS, killed_when_trial_starts, states, study_trials

from engine.data import load_report_pairs

# --- a Bunny VLM (the demo's --vlm bunny) ---------------------------------------------------

PARAMS_A = [0.3, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0]
PARAMS_B = [0.6, 0.8, 0.1, 0.5, 0.2, 0.2, 0.9, 0.4, 0.1, 1.7]


@pytest.mark.slow
def test_bunny_image_rows_are_computed_once_and_reused_by_every_trial(bunny_demo_dir, dev_csv):
    import torch

    from engine.evolve import ReportFitness
    from engine.merge import JRadiEvoParams, MergeContext

    demo = bunny_demo_dir
    context = MergeContext.from_folders(demo / "base", [demo / m for m in MODELS])
    pairs = load_report_pairs(dev_csv).pairs
    fitness = ReportFitness(context, demo / "vlm", pairs, max_new_tokens=12, batch_size=3)
    assert fitness.family == "bunny_s2"
    assert fitness.decoder_note.startswith("the static-cache greedy decoder")
    assert fitness.images_encoded == len(pairs) == 8  # each dev image once, before any trial
    bunny = fitness.dev.bunny
    assert fitness.model is bunny.language  # the merge target: the Bunny's Llama
    image_path = {f"{name}.{k}": v.clone() for name, part in
                  (("vision", bunny.vision), ("projector", bunny.projector))
                  for k, v in part.state_dict().items()}  # fmt: skip
    calls: list[str] = []
    hooks = [
        part.register_forward_hook(lambda module, args, out, name=name: calls.append(name))
        for name, part in (("vision", bunny.vision), ("projector", bunny.projector))
    ]
    a, b = JRadiEvoParams.from_vector(PARAMS_A), JRadiEvoParams.from_vector(PARAMS_B)
    first = fitness.evaluate(a)
    merged = context.merged_state_dict(a)  # what the trial merged into the live Llama
    live = bunny.language.state_dict()
    assert all(torch.equal(live[name], merged[name]) for name in merged)
    other = fitness.evaluate(b)
    again = fitness.evaluate(a)
    for hook in hooks:
        hook.remove()
    assert calls == [] and fitness.images_encoded == 8  # three trials, no vision pass
    assert (again.score, again.predictions) == (first.score, first.predictions)
    assert other.predictions != first.predictions  # the merge really changed the live tower
    assert len(first.scores) == 8 and 0.0 <= first.score <= 1.0
    now = {f"{name}.{k}": v for name, part in
           (("vision", bunny.vision), ("projector", bunny.projector))
           for k, v in part.state_dict().items()}  # fmt: skip
    assert all(torch.equal(now[k], v) for k, v in image_path.items())  # never merged

    # transformers' generate on inputs_embeds (the same cached rows) writes the same reports
    plain = ReportFitness(
        context, demo / "vlm", pairs, max_new_tokens=12, batch_size=3, decoder="transformers"
    )
    assert plain.evaluate(b).predictions == other.predictions
    assert plain.images_encoded == 8


@pytest.mark.slow
def test_killed_bunny_run_resumes_to_exactly_12_trials_computing_image_rows_once_per_run(
    bunny_demo_dir, tmp_path, capsys, qtbot
):
    import torch
    from safetensors.torch import load_file

    from engine.cli import main
    from engine.merge import JRadiEvoParams, MergeContext
    from jradi_desktop.architectures.bunny_s2 import read_tensors
    from jradi_desktop.contract import param_names

    demo = bunny_demo_dir
    assert main(["demo-data", str(tmp_path / "dev"), "--models", str(demo)]) == 0
    capsys.readouterr()
    recipe = tmp_path / "dev" / "evolve.yaml"  # the demo's recipe: 8 pairs, CPU-sized
    ws = tmp_path / "ws"
    run = ["evolve", str(recipe), "--workspace", str(ws), "--n-trials", "12", "--events", "jsonl"]
    killed_run = killed_when_trial_starts([sys.executable, "-m", "engine.cli", *run], 5)
    before = states(study_trials(ws))
    done, killed = before["COMPLETE"], before.get("RUNNING", [])
    assert 5 <= len(done) < 12 and done == list(range(len(done))) and len(killed) <= 1

    assert main(run) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    trials = study_trials(ws)
    first = len(done) + len(killed)
    resumed = list(range(first, first + 12 - len(done)))
    assert states(trials) == {"COMPLETE": done + resumed} | ({"FAIL": killed} if killed else {})
    result = events[-1]["data"]
    assert result["complete"] == 12 and result["ran"] == resumed

    # Image rows: the 8 dev images once per run (loading), never again in any trial.
    for run_data in (killed_run, [e["data"] for e in events]):
        [rows] = [d for d in run_data if d.get("event") == "image-rows"]
        assert rows == {"event": "image-rows", "family": "bunny_s2", "images_encoded": 8}
        finished = [d for d in run_data if d.get("event") == "trial-finished"]
        assert finished and {d["images_encoded"] for d in finished} == {8}
    assert result["images_encoded"] == 8
    summary = json.loads((ws / "summary" / "best.json").read_text(encoding="utf-8"))
    assert summary["images_encoded"] == 8 and summary["best_trial"] == result["best_trial"]

    # The best model: a Bunny-layout folder, image path bit for bit the VLM's, and its GGUF
    # pair for the clinician's app: model.gguf + the S² vision/ folder.
    best = ws / "best" / "model"
    config = json.loads((best / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "bunny-llama"
    gguf_dir = ws / "best" / "gguf"
    assert (gguf_dir / "model.gguf").is_file()
    assert (gguf_dir / "vision" / "manifest.json").is_file()
    exported_files = [e["data"] for e in events if e["data"].get("gguf")][-1]
    assert exported_files["gguf"] == str(gguf_dir / "model.gguf")
    assert exported_files["mmproj"] == str(gguf_dir / "vision")
    source, exported = read_tensors(demo / "vlm"), read_tensors(best)
    assert exported.keys() == source.keys()
    language = set(load_file(demo / "base" / "model.safetensors"))
    for key in set(source) - language:  # vision tower and projector
        assert torch.equal(exported[key], source[key]), key
    context = MergeContext.from_folders(demo / "base", [demo / m for m in MODELS], dtype="float16")
    params = JRadiEvoParams.from_vector([result["best_params"][k] for k in param_names(4)])
    expected = context.merged_state_dict(params)
    for name in language:
        assert torch.equal(exported[name], expected[name].to(exported[name].dtype)), name

    # the exported Bunny drafts a report through the clinician's CLI (HF backend)
    from jradi_desktop.cli import main as jradi

    sample = str(Path(__file__).parents[1] / "resources" / "samples" / "chest_phantom.dcm")
    args = ["report", sample, "--model", str(best), "--json", "--max-new-tokens", "8"]
    assert jradi(args) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["image"] == sample

    # 「このモデルを使う」 (the wizard's export panel) registers the GGUF pair, which drafts
    # a report through the app's worker
    from jradi_desktop.inference import GenerationParams, InferenceWorker
    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.pipeline import generate_report
    from jradi_desktop.ui.tuning._export import ExportPanel

    registry = ModelRegistry(tmp_path / "models.json")
    panel = ExportPanel(registry)
    qtbot.addWidget(panel)
    panel.set_exported(gguf_dir / "model.gguf", gguf_dir / "vision")
    assert panel.use_button.isEnabled()
    with qtbot.waitSignal(panel.modelReady) as ready:
        panel.use_button.click()
    spec = ready.args[0]
    assert registry.default == spec.name and registry.get(spec.name).mmproj == gguf_dir / "vision"
    with InferenceWorker(spec) as worker:
        report = generate_report(worker, sample, model_name=spec.name, params=GenerationParams(8))
    assert report.model == spec.name and report.text.strip()
