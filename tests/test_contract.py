"""The engine/wizard contract: both sides take the shared facts from ``jradi_desktop.contract``
and agree on them; an event written by the engine reads back as the same JSON it always was."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from jradi_desktop import contract
from jradi_desktop.contract import Event, History, Payload, TrialStarted, parse_event


def run_python(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- search parameters ------------------------------------------------------------------------
def test_the_wizards_bounds_table_and_the_engines_search_space_agree(qtbot):
    from engine.evolve._settings import EvolveSettings
    from engine.evolve._space import SearchSpace
    from jradi_desktop.ui.tuning._fields import BoundsTable

    table = BoundsTable()
    qtbot.addWidget(table)
    table.set_models(["vlm", "med-a", "med-b", "ja"])
    space = SearchSpace(EvolveSettings(data="dev.csv"), 4)
    names = ["p", "k0", "k1", "k2", "k3", "w0", "w1", "w2", "w3", "lambda"]
    assert list(table.spins) == space.names == contract.param_names(4) == names
    for param in contract.search_params(4):
        low, high = table.spins[param.name]
        assert (low.minimum(), low.maximum()) == (high.minimum(), high.maximum())
        assert (low.minimum(), low.maximum()) == space.bounds[param.name] == param.range
        assert (low.value(), high.value()) == space.bounds[param.name]
    assert space.bounds["lambda"] == (0.0, 2.0) and space.bounds["k2"] == (0.0, 1.0)

    # what the wizard writes into the recipe is what the engine searches
    table.spins["w1"][1].setValue(0.5)
    table.spins["lambda"][0].setValue(0.25)
    settings = EvolveSettings(data="dev.csv", bounds=table.recipe_bounds())
    assert settings.problems(4) == []
    assert SearchSpace(settings, 4).bounds == table.bounds()


def test_renaming_a_search_parameter_is_one_line():
    """Edit the one line of the contract that names lambda; the wizard's table, the engine's
    search space, the recipe check and the trial text all follow."""
    out = run_python(
        """
        import importlib.util, json, sys
        from pathlib import Path

        import jradi_desktop

        path = Path(jradi_desktop.__file__).parent / "contract" / "_search.py"
        source = path.read_text(encoding="utf-8")
        line = '    "lambda": (0.0, 2.0),\\n'
        assert source.count(line) == 1
        name = "jradi_desktop.contract._search"
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, None))
        sys.modules[name] = module
        edited = source.replace(line, line.replace("lambda", "scale"))
        exec(compile(edited, str(path), "exec"), module.__dict__)

        from PySide6.QtWidgets import QApplication

        app = QApplication([])
        from engine.evolve._settings import EvolveSettings
        from engine.evolve._space import SearchSpace
        from engine.merge import JRadiEvoParams
        from jradi_desktop.ui.tuning._fields import BoundsTable
        from jradi_desktop.ui.tuning._trials import format_params

        table = BoundsTable()
        table.set_models(["a", "b"])
        settings = EvolveSettings(data="dev.csv", bounds=table.recipe_bounds())
        space = SearchSpace(settings, 2)
        params = JRadiEvoParams.from_vector([0.5, 0.1, 0.2, 0.3, 0.4, 1.5])
        print(json.dumps({
            "table": list(table.spins),
            "space": space.names,
            "bounds": space.bounds["scale"],
            "recipe": list(table.recipe_bounds()),
            "families": list(params.by_family()),
            "old_name": EvolveSettings(data="dev.csv", bounds={"lambda": [0, 1]}).problems(2),
            "text": format_params(space.as_dict(params)),
        }))
        """
    )
    seen = json.loads(out.splitlines()[-1])
    names = ["p", "k0", "k1", "w0", "w1", "scale"]
    assert seen["table"] == seen["space"] == names
    assert seen["bounds"] == [0.0, 2.0]
    assert seen["recipe"] == seen["families"] == ["p", "k", "w", "scale"]
    assert "unknown ['lambda']" in seen["old_name"][0] and "scale" in seen["old_name"][0]
    assert seen["text"] == "p=0.500 k=[0.10 0.20] w=[0.30 0.40] scale=1.500"


def test_trial_text_and_recipe_parameters_follow_the_search_order():
    from jradi_desktop.ui.tuning._trials import format_params

    values = {"lambda": 0.77, "w1": 0.44, "k0": 0.72, "w0": 0.65, "p": 0.55, "k1": 0.6}
    assert list(contract.group_params(values)) == ["p", "k", "w", "lambda"]
    assert contract.group_params(values)["w"] == [0.65, 0.44]
    assert format_params(values) == "p=0.550 k=[0.72 0.60] w=[0.65 0.44] λ=0.770"


# -- events -----------------------------------------------------------------------------------
# Each payload beside the ``data`` the engine wrote before the contract, key for key.
TODAY: list[tuple[Payload, dict[str, Any]]] = [
    (
        TrialStarted(3, {"p": 0.5, "lambda": 1.0}),
        {"event": "trial-started", "trial": 3, "params": {"p": 0.5, "lambda": 1.0}},
    ),
    (
        contract.TrialFinished(3, "COMPLETE", 0.25, 0.3, 1, 12.5, 40.0, 80.0, 2),
        {"event": "trial-finished", "trial": 3, "state": "COMPLETE", "score": 0.25,
         "best_score": 0.3, "best_trial": 1, "seconds": 12.5, "elapsed_s": 40.0,
         "remaining_s": 80.0, "images_encoded": 2},
    ),
    (
        contract.TrialFinished(4, "FAIL", None, None, None, None, 1.0, None, 0),
        {"event": "trial-finished", "trial": 4, "state": "FAIL", "score": None,
         "best_score": None, "best_trial": None, "seconds": None, "elapsed_s": 1.0,
         "remaining_s": None, "images_encoded": 0},
    ),
    (contract.BatchDone(3, 1, 4), {"event": "batch", "trial": 3, "batch": 1, "batches": 4}),
    (
        History([contract.TrialRow(0, "COMPLETE", 0.2, 3.5, {"p": 0.1}),
                 contract.TrialRow(1, "RUNNING")]),
        {"trials": [
            {"trial": 0, "state": "COMPLETE", "score": 0.2, "seconds": 3.5, "params": {"p": 0.1}},
            {"trial": 1, "state": "RUNNING", "score": None, "seconds": None, "params": {}},
        ]},
    ),
    (
        contract.TrainProgress(1.25, 1e-4, 3.0, 9.0, 0.5),
        {"loss": 1.25, "lr": 1e-4, "elapsed_s": 3.0, "remaining_s": 9.0, "epoch": 0.5},
    ),
    (
        contract.TrainResumed(10, "/w/checkpoints/step-10", True),
        {"event": "resume", "step": 10, "checkpoint": "/w/checkpoints/step-10",
         "rng_restored": True},
    ),
    (
        contract.TrainResult("/w/adapter", "/w/merged", None, 30, None, 2.0, 1.0, 1, "alpaca", None,
                    4.5, [2.0, 1.0]),
        {"adapter": "/w/adapter", "merged": "/w/merged", "gguf": None, "steps": 30,
         "resumed_from": None, "first_loss": 2.0, "last_loss": 1.0, "world_size": 1,
         "prompt_format": "alpaca", "template": None, "seconds": 4.5, "losses": [2.0, 1.0]},
    ),
    (contract.QAProgress(1.5, 3.0), {"elapsed_s": 1.5, "remaining_s": 3.0}),
    (
        contract.Devices([{"name": "H200", "total": 2**30, "free": 2**29}], ""),
        {"gpus": [{"name": "H200", "total": 2**30, "free": 2**29}], "reason": ""},
    ),
    (
        contract.BestFiles("/w/best/model", "/w/best/gguf/model.gguf", None),
        {"model_dir": "/w/best/model", "gguf": "/w/best/gguf/model.gguf", "mmproj": None},
    ),
]  # fmt: skip


@pytest.mark.parametrize("payload, data", TODAY, ids=[type(p).__name__ for p, _ in TODAY])
def test_events_serialise_as_today_and_read_back(payload: Payload, data: dict[str, Any]):
    event = payload.event("evolve", contract.PROGRESS, "a message", 2, 5)
    line = event.to_json()
    assert line == Event("evolve", "progress", "a message", 2, 5, data).to_json()
    assert json.loads(line)["data"] == data
    parsed = parse_event(line)
    assert parsed == Event.from_json(line) == event
    assert type(payload).from_event(parsed) == payload
    assert type(payload).from_event(parsed, contract.RESULT) is None  # another kind


def test_trial_texts_are_written_as_today(tmp_path):
    line = contract.TrialText(2, 0, "/d/a.png", "所見", "生成", 0.5).to_data()
    today = {"trial": 2, "index": 0, "image": "/d/a.png", "reference": "所見",
             "prediction": "生成", "rouge_l": 0.5}  # fmt: skip
    assert json.dumps(line, ensure_ascii=False) == json.dumps(today, ensure_ascii=False)
    assert contract.trial_texts(tmp_path, 2) == tmp_path / "trials" / "00002.jsonl"


def test_a_payload_does_not_read_another_kinds_data():
    started = TrialStarted(1, {}).event("evolve", contract.PROGRESS, "")
    assert (
        contract.TrialFinished.from_event(started) is None
        and contract.BatchDone.from_event(started) is None
    )
    assert (
        contract.TrainProgress.from_event(
            contract.QAProgress(1.0, 2.0).event("eval-qa", "progress", "")
        )
        is None
    )
    assert History.from_event(started) is None


def test_train_result_json_file_is_the_result_without_the_losses():
    result = contract.TrainResult(
        "a", None, None, 3, None, None, None, 1, "alpaca", "llama3", 1.0, [1.0]
    )
    assert list(result.summary()) == ["adapter", "merged", "gguf", "steps", "resumed_from",
                                      "first_loss", "last_loss", "world_size", "prompt_format",
                                      "template", "seconds"]  # fmt: skip


def test_parse_event_keeps_library_output_out():
    assert parse_event("Loading checkpoint shards: 100%") is None
    assert parse_event('["a", "list"]') is None
    assert parse_event('{"no": "kind"}') is None
    event = parse_event('{"job": "lora", "kind": "log"}')
    assert event == Event("lora", "log") and event.remaining_s is None
    assert contract.KINDS == ("progress", "log", "result", "error")


def test_the_engine_writes_its_events_through_the_contract(tmp_path):
    from engine.evolve import iter_history

    (event,) = iter_history(tmp_path)
    history = History.from_event(Event.from_json(event.to_json()), contract.RESULT)
    assert history == History([]) and event.job == "history"


# -- data, roles, layout ----------------------------------------------------------------------
def test_dev_set_columns_and_demo_roles_are_the_engines(tmp_path, qtbot):
    from engine import demo, demo_data
    from engine.data import _reports, load_report_pairs
    from jradi_desktop.ui.tuning import _data

    assert _data.IMAGE_COLUMNS is _reports.IMAGE_COLUMNS is contract.IMAGE_COLUMNS
    assert _data.REPORT_COLUMNS is _reports.REPORT_COLUMNS is contract.REPORT_COLUMNS
    assert _data.FINDINGS_COLUMNS is _reports.FINDINGS_COLUMNS is contract.FINDINGS_COLUMNS
    assert demo.ALL_ROLES is _data.ALL_ROLES is contract.ALL_ROLES

    # every column name each side accepts, the other side accepts too
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    for image_col in contract.IMAGE_COLUMNS:
        for text_col in (*contract.FINDINGS_COLUMNS, *contract.REPORT_COLUMNS):
            dev = tmp_path / "dev.csv"
            dev.write_text(f"{image_col},{text_col}\na.png,所見: 異常なし\n", encoding="utf-8")
            assert len(_data.read_dev_set(str(dev)).rows) == 1
            assert len(load_report_pairs(dev)) == 1

    # the folders the wizard looks for are the ones the engine writes
    for role in contract.ALL_ROLES:
        (tmp_path / "models" / role).mkdir(parents=True)
        (tmp_path / "models" / role / "config.json").write_text("{}", encoding="utf-8")
    assert _data.find_demo_models(tmp_path / "models") == tmp_path / "models"
    (tmp_path / "dev").mkdir()
    recipe = demo_data.write_demo_recipe(tmp_path / "dev", tmp_path / "models")
    text = recipe.read_text(encoding="utf-8")
    assert all(f"models/{role}" in text for role in contract.MERGED_ROLES)


def test_the_best_export_is_found_where_the_engine_writes_it(tmp_path):
    from jradi_desktop.ui.tuning._workspace import best_export

    best = tmp_path / contract.BEST_DIR
    gguf = best / contract.BEST_GGUF_DIR
    gguf.mkdir(parents=True)
    assert best_export(tmp_path) is None
    (best / contract.BEST_JSON).write_text('{"trial": 2}', encoding="utf-8")
    (gguf / contract.MODEL_GGUF).write_bytes(b"")
    files = best_export(tmp_path)
    assert files == contract.BestFiles(str(best / "model"), str(gguf / "model.gguf"), None)


def test_find_mmproj_is_one_function(tmp_path):
    from jradi_desktop import models

    assert models.find_mmproj is contract.find_mmproj
    model = tmp_path / contract.MODEL_GGUF
    (tmp_path / "mmproj-clip.gguf").write_bytes(b"")
    assert contract.find_mmproj(model) == tmp_path / "mmproj-clip.gguf"
    (tmp_path / contract.VISION_DIR).mkdir()
    (tmp_path / contract.VISION_DIR / "manifest.json").write_text("{}", encoding="utf-8")
    assert contract.find_mmproj(model) == tmp_path / contract.VISION_DIR


def test_the_contract_imports_only_the_standard_library():
    out = run_python(
        """
        import sys
        before = set(sys.modules)
        import jradi_desktop.contract
        new = sorted(m for m in set(sys.modules) - before if "." not in m or m.startswith(
            ("jradi_desktop.", "engine")))
        print(" ".join(new))
        """
    )
    loaded = out.split()
    ours = [m for m in loaded if m.startswith(("jradi_desktop", "engine"))]
    assert all(m.startswith("jradi_desktop.contract") or m in ("jradi_desktop",
               "jradi_desktop.offline") for m in ours), ours  # fmt: skip
    third_party = {"PySide6", "numpy", "torch", "pydantic", "yaml", "optuna", "transformers"}
    assert not third_party & set(loaded)


def test_contract_modules_stay_small():
    folder = Path(contract.__file__).parent
    assert all(len(p.read_text(encoding="utf-8").splitlines()) < 400 for p in folder.glob("*.py"))
