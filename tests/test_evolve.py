"""The evolutionary search: dev data, the recipe, the fitness, resume after SIGKILL, Ctrl-C,
pruning, export and summary."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from evolve_helpers import MODELS, killed_when_trial_starts, states, study_trials, write_recipe

from engine.data import DataError, load_report_pairs
from engine.demo_data import demo_reports, write_demo_dev_set
from engine.evolve import EvolveError, load_evolve_recipe
from jradi_desktop.contract import StudyOpened

# --- data -------------------------------------------------------------------------------


def test_demo_dev_set_is_deterministic_png_and_dicom(tmp_path):
    a = write_demo_dev_set(tmp_path / "a", n=5, seed=3)
    b = write_demo_dev_set(tmp_path / "b", n=5, seed=3)
    files = sorted(p.relative_to(a.parent) for p in a.parent.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".csv", ".png", ".dcm"}
    assert all((a.parent / p).read_bytes() == (b.parent / p).read_bytes() for p in files)
    pairs = load_report_pairs(a, open_images=True)
    assert [p.report for p in pairs.pairs] == demo_reports()[:5]
    assert pairs.pairs[0].model_image().size == (512, 512)


def test_demo_data_command_writes_a_dev_set_and_a_recipe_for_the_demo_models(
    tmp_path, demo_dir, capsys
):
    from engine.cli import main

    assert main(["demo-data", str(tmp_path / "dev"), "--n", "3", "--models", str(demo_dir)]) == 0
    recipe = load_evolve_recipe(tmp_path / "dev" / "evolve.yaml")
    assert recipe.vlm is not None and recipe.vlm.path == demo_dir / "vlm"
    assert len(load_report_pairs(recipe.evolve.data.path).pairs) == 3
    assert main(["demo-data", str(tmp_path / "x"), "--models", str(tmp_path / "dev")]) == 1
    assert "does not hold the demo models" in capsys.readouterr().err


def test_csv_and_jsonl_with_relative_paths_and_empty_targets(tmp_path, dev_csv):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(dev_csv.parent / "images", tmp_path / "images")
    reports = demo_reports()
    rows = [
        {"image": "../images/cxr_000.png", "report": reports[0]},
        {"image": "../images/cxr_001.png", "report": "所見：\n印象：異常なし。"},  # empty findings
        {"image": "../images/cxr_003.dcm", "report": reports[3]},
    ]
    import csv

    with open(data / "dev.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "report"])
        writer.writeheader()
        writer.writerows(rows)
    got = load_report_pairs(data / "dev.csv")
    assert (len(got), got.skipped) == (2, 1)
    assert got.pairs[1].image == data / "../images/cxr_003.dcm"
    assert (
        got.pairs[1].findings.startswith("左上肺野に結節影") and "印象" not in got.pairs[1].findings
    )
    assert got.pairs[1].row == 3

    lines = [
        {"path": "../images/cxr_000.png", "findings": "心拡大を認めます。", "impression": "x"},
        {"path": "../images/cxr_001.png", "findings": "  "},
    ]
    (data / "dev.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8"
    )
    got = load_report_pairs(data / "dev.jsonl", open_images=True)
    assert (len(got), got.skipped, got.pairs[0].findings) == (1, 1, "心拡大を認めます。")


def test_data_errors_name_the_file_the_row_and_the_problem(tmp_path, dev_csv):
    shutil.copytree(dev_csv.parent / "images", tmp_path / "images")
    path = tmp_path / "dev.csv"
    path.write_text(
        "image,report\nimages/cxr_000.png,所見：a\nimages/cxr_002.png,所見：b\n"
        "images/nope.png,所見：c\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"dev\.csv: row 3: image file not found: .*nope\.png"):
        load_report_pairs(path)
    path.write_text("image,text_ja\nimages/cxr_000.png,所見：a\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.csv: the header \(line 1\) has no report column"):
        load_report_pairs(path)
    path.write_text("file,report\nimages/cxr_000.png,所見：a\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no column 'image_file'; columns are: file, report"):
        load_report_pairs(path, image_col="image_file")
    jsonl = tmp_path / "dev.jsonl"
    jsonl.write_text(
        '{"image": "images/cxr_000.png", "report": "所見：a"}\n{"report": "所見：b"}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"dev\.jsonl: row 2 has no field 'image'"):
        load_report_pairs(jsonl)
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    path.write_text("image,report\nimages/broken.png,所見：a\n", encoding="utf-8")
    load_report_pairs(path)  # found; decoded only when asked
    with pytest.raises(DataError, match=r"dev\.csv: row 1: unreadable image: .*broken\.png"):
        load_report_pairs(path, open_images=True)


def test_recipe_problems_are_reported_together(tmp_path, demo_dir, dev_csv):
    path = write_recipe(tmp_path, demo_dir, dev_csv, sampler="annealing", bounds={"p": [0, 2]})
    text = yaml.safe_load(path.read_text(encoding="utf-8"))
    text["models"][0]["role"] = "llm"
    path.write_text(yaml.safe_dump(text), encoding="utf-8")
    with pytest.raises(EvolveError) as info:
        load_evolve_recipe(path)
    message = str(info.value)
    assert "the recipe has 3 problem(s)" in message
    assert "needs one model with role: vlm" in message
    assert "evolve.sampler 'annealing' is not known; choose one of ['cmaes'" in message
    assert "evolve.bounds.p = [0, 2] must satisfy 0 <= low <= high <= 1" in message


def test_samplers_by_name():
    import optuna

    from engine.evolve._space import make_sampler

    assert isinstance(make_sampler("cmaes", 0), optuna.samplers.CmaEsSampler)
    assert isinstance(make_sampler("tpe", 0), optuna.samplers.TPESampler)
    assert isinstance(make_sampler("gp", 0), optuna.samplers.GPSampler)
    with pytest.raises(EvolveError, match=r"sampler 'bo' is not known; choose one of \['cmaes'"):
        make_sampler("bo", 0)


# --- the search -------------------------------------------------------------------------


@pytest.mark.slow
def test_objective_is_deterministic(demo_dir, dev_csv):
    from engine.evolve import ReportFitness
    from engine.merge import JRadiEvoParams, MergeContext

    context = MergeContext.from_folders(demo_dir / "base", [demo_dir / m for m in MODELS])
    pairs = load_report_pairs(dev_csv).pairs
    fitness = ReportFitness(context, demo_dir / "vlm", pairs, max_new_tokens=12, batch_size=3)
    a = JRadiEvoParams.from_vector([0.3, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0])
    b = JRadiEvoParams.from_vector([0.6, 0.8, 0.1, 0.5, 0.2, 0.2, 0.9, 0.4, 0.1, 1.7])
    first = fitness.evaluate(a)
    other = fitness.evaluate(b)
    again = fitness.evaluate(a)
    assert (again.score, again.predictions) == (first.score, first.predictions)
    assert other.predictions != first.predictions  # the merge really changed the live model
    assert len(first.scores) == 8 and 0.0 <= first.score <= 1.0
    assert fitness.decoder_note.startswith("the static-cache greedy decoder")

    # transformers' generate on the same merge writes the same reports
    plain = ReportFitness(
        context, demo_dir / "vlm", pairs, max_new_tokens=12, batch_size=3, decoder="transformers"
    )
    assert plain.decoder_note == "transformers' generate (chosen in the recipe)"
    assert plain.evaluate(b).predictions == other.predictions


@pytest.mark.slow
def test_the_fast_decoder_is_used_only_when_it_agrees_with_generate(demo_dir, dev_csv, monkeypatch):
    from engine.evolve import ReportFitness, _vlm
    from engine.evolve._greedy import GreedyDecoder
    from engine.merge import MergeContext

    context = MergeContext.from_folders(demo_dir / "base", [demo_dir / m for m in MODELS])
    pairs = load_report_pairs(dev_csv).pairs[:4]

    def fitness() -> ReportFitness:
        return ReportFitness(context, demo_dir / "vlm", pairs, max_new_tokens=6, batch_size=4)

    # A shared prefix that reaches into the images decodes wrongly: decode without sharing.
    monkeypatch.setattr(_vlm, "shared_prefix", lambda ids, mask, image: ids.shape[1] - 4)
    shared_off = fitness()
    assert shared_off.fast is not None and shared_off.prefixes == [0]
    monkeypatch.undo()
    expected = shared_off.generate()

    # A decoder that disagrees anyway is not used.
    real = GreedyDecoder._forward
    monkeypatch.setattr(GreedyDecoder, "_forward", lambda self, *args: real(self, *args).flip(-1))
    fallback = fitness()
    assert fallback.fast is None
    assert fallback.decoder_note == (
        "transformers' generate (its tokens differed from generate's on the first dev batch)"
    )
    assert fallback.generate() == expected


@pytest.mark.slow
def test_killed_run_resumes_to_exactly_n_trials_and_exports(demo_dir, dev_csv, tmp_path, capsys):
    import torch
    from transformers import AutoModelForImageTextToText

    from engine.cli import main
    from engine.merge import JRadiEvoParams, MergeContext, language_targets
    from jradi_desktop.contract import param_names

    recipe = write_recipe(tmp_path, demo_dir, dev_csv)
    ws = tmp_path / "ws"
    run = ["evolve", str(recipe), "--workspace", str(ws), "--n-trials", "12", "--events", "jsonl"]
    killed_when_trial_starts([sys.executable, "-m", "engine.cli", *run], 5)
    before = states(study_trials(ws))
    done, killed = before["COMPLETE"], before.get("RUNNING", [])
    # Killed during trial 5 (a scheduler hiccup could let it finish first: then no RUNNING).
    assert 5 <= len(done) < 12 and done == list(range(len(done))) and len(killed) <= 1
    assert set(before) <= {"COMPLETE", "RUNNING"} and killed in ([], [len(done)])

    assert main(run) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert StudyOpened.from_data(events[1]["data"]) == StudyOpened(len(done), 0, killed)
    result = events[-1]["data"]
    trials = study_trials(ws)
    first = len(done) + len(killed)
    resumed = list(range(first, first + 12 - len(done)))
    assert states(trials) == {"COMPLETE": done + resumed} | ({"FAIL": killed} if killed else {})
    assert result["ran"] == resumed
    assert result["complete"] == 12 and result["failed_stale"] == killed
    sampled = [t for t in trials[1:] if t.params]  # trial 0 is CMA-ES's independent start
    assert all(any(k.startswith("cma:") for k in t.system_attrs) for t in sampled)
    finished = [e["data"] for e in events if e["data"].get("event") == "trial-finished"]
    best_value = max(t.value for t in trials if t.value is not None)
    assert finished[-1]["best_score"] == result["best_score"] == best_value
    assert finished[-1]["remaining_s"] == 0.0 and finished[0]["remaining_s"] > 0
    texts = (ws / "trials" / f"{resumed[-1]:05d}.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(x) for x in texts.splitlines()]
    assert len(texts) == 8 and {"prediction", "reference", "rouge_l"} <= texts[0].keys()

    best = ws / "best"
    model = AutoModelForImageTextToText.from_pretrained(best / "model")
    assert model.config.model_type == "llava"
    context = MergeContext.from_folders(
        demo_dir / "base", [demo_dir / m for m in MODELS], dtype="float16"
    )
    params = JRadiEvoParams.from_vector([result["best_params"][k] for k in param_names(4)])
    expected = context.merged_state_dict(params)  # the trial's weights, rebuilt
    state = model.state_dict()
    assert all(torch.equal(state[key], expected[n]) for n, key in language_targets(state).items())
    assert (best / "gguf" / "model.gguf").stat().st_size > 0
    assert (best / "gguf" / "mmproj.gguf").stat().st_size > 0
    rebuilt = yaml.safe_load((best / "model" / "jradi_recipe.yaml").read_text())
    assert rebuilt["parameters"]["p"] == result["best_params"]["p"]
    assert (ws / "summary" / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((ws / "summary" / "trials.csv").read_text().splitlines()) == 1 + len(trials)

    assert main(run) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["data"]["ran"] == [] and len(study_trials(ws)) == len(trials)
    assert any("already exported" in e["message"] for e in events)

    # the study's history, read without joining it (what the wizard shows on reopening)
    assert main(["history", "--workspace", str(ws), "--events", "jsonl"]) == 0
    history = json.loads(capsys.readouterr().out)["data"]["trials"]
    assert [(r["trial"], r["state"]) for r in history] == [(t.number, t.state.name) for t in trials]
    assert max(r["score"] or 0 for r in history) == best_value
    assert main(["history", "--workspace", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out.startswith("0 trials")
    assert not (tmp_path / "none").exists()

    # the exported best model drafts reports through the clinician's CLI, both ways
    from jradi_desktop.cli import main as jradi

    sample = str(Path(__file__).parents[1] / "resources" / "samples" / "chest_phantom.dcm")
    for exported in (best / "model", best / "gguf" / "model.gguf"):
        args = ["report", sample, "--model", str(exported), "--json", "--max-new-tokens", "8"]
        assert jradi(args) == 0
        report = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert report["image"] == sample and report["text"]


@pytest.mark.slow
def test_ctrl_c_fails_the_current_trial_and_a_second_worker_is_refused(demo_dir, dev_csv, tmp_path):
    from engine.evolve import iter_evolve
    from engine.evolve._storage import open_storage

    recipe = write_recipe(tmp_path, demo_dir, dev_csv, sampler="tpe")
    ws = tmp_path / "ws"
    ws.mkdir()
    with (
        open_storage(None, ws),
        pytest.raises(
            EvolveError, match=r"another jradi-engine evolve \(pid \d+\) is running on this SQLite"
        ),
    ):
        next(e for e in iter_evolve(recipe, ws, n_trials=4) if e.kind == "result")
    events = iter_evolve(recipe, ws, n_trials=4, export=False)
    for event in events:
        if event.data.get("event") == "trial-started" and event.data["trial"] == 2:
            with pytest.raises(KeyboardInterrupt):
                events.throw(KeyboardInterrupt)
            break
    trials = study_trials(ws)
    assert states(trials) == {"COMPLETE": [0, 1], "FAIL": [2]}
    assert trials[2].user_attrs["failed_reason"] == "cancelled"


@pytest.mark.slow
def test_pruning_scores_part_of_the_dev_set_first(demo_dir, dev_csv, tmp_path):
    from engine.evolve import evolve

    pruning = {"fraction": 0.5, "keep_top": 25, "startup_trials": 2}
    recipe = write_recipe(
        tmp_path, demo_dir, dev_csv, sampler="random", batch_size=4, pruning=pruning
    )
    result = evolve(recipe, tmp_path / "ws", n_trials=5, export=False)
    trials = study_trials(tmp_path / "ws")
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert result is not None and result.complete == 5
    assert len(trials) == 5 + len(pruned) and pruned
    assert all(list(t.intermediate_values) == [0] for t in trials)  # half the pairs, scored
    assert not any((tmp_path / "ws" / "trials" / f"{t.number:05d}.jsonl").exists() for t in pruned)
