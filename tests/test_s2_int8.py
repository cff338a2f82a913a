"""An int8 S² trunk only where it was shown to agree (issue #22, item 4): the export measures
it against fp32 on the dev set's images (row cosine, greedy reports through the GGUF backend)
and records that in the manifest; the app runs it only when the record passes, and says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The trained demo Bunny's HF folder and 4 dev images."""
    from engine.demo import build_demo_models
    from engine.demo_data import write_demo_dev_set

    root = tmp_path_factory.mktemp("int8")
    models = build_demo_models(root / "hf", seed=0, trained=True, vlm="bunny")
    dev = write_demo_dev_set(root / "dev", n=4, seed=0)
    return models / "vlm", sorted((dev.parent / "images").iterdir())


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An f16 export with the int8 check (its fp32 reference trunk exported aside)."""
    from engine.export import export_gguf

    out = tmp_path_factory.mktemp("int8-f16") / "gguf"
    return export_gguf(trained[0], out, "f16", int8_images=trained[1]).model.parent


def _backend(folder: Path) -> object:
    from jradi_desktop.inference import create_backend
    from jradi_desktop.models import ModelSpec

    return create_backend(ModelSpec("m", "gguf", folder / "model.gguf", folder / "vision",
                                    threads=1))  # fmt: skip


def _report(backend: object) -> str:
    from jradi_desktop.inference import GenerationParams
    from jradi_desktop.pipeline import generate_report

    return generate_report(backend, SAMPLE, model_name="m", params=GenerationParams(48)).text


def test_the_export_records_the_agreement_and_the_app_runs_the_int8_trunk(exported):
    from jradi_desktop.architectures.bunny_s2 import INT8_MIN_ROW_COSINE

    record = json.loads((exported / "vision" / "manifest.json").read_text())["int8"]
    assert (
        record["trunk"] == "trunk.int8.onnx" and (exported / "vision" / record["trunk"]).is_file()
    )
    assert record["images"] == 4 and record["reports_identical"] == 4
    assert INT8_MIN_ROW_COSINE <= record["row_cosine_min"] <= 1.0
    with _backend(exported) as backend:
        assert "int8 trunk used" in backend.runtime
        int8_text = _report(backend)
    assert int8_text.strip()


@pytest.mark.parametrize("lie", ["cosine", "reports"])
def test_a_record_that_fails_the_threshold_runs_the_fp_trunk(exported, tmp_path, lie):
    folder = tmp_path / "gguf"
    shutil.copytree(exported, folder)
    path = folder / "vision" / "manifest.json"
    manifest = json.loads(path.read_text())
    if lie == "cosine":
        manifest["int8"]["row_cosine_min"] = 0.9
    else:
        manifest["int8"]["reports_identical"] = 3
    path.write_text(json.dumps(manifest))
    with _backend(folder) as backend:
        assert "int8 trunk not used" in backend.runtime
        assert backend._s2.encoder.trunk == "trunk.onnx"
        assert _report(backend).strip()
    del manifest["int8"]  # an export without the check: the fp trunk, and no word of int8
    path.write_text(json.dumps(manifest))
    with _backend(folder) as backend:
        assert "int8" not in backend.runtime and backend._s2.encoder.trunk == "trunk.onnx"


def test_an_fp32_export_is_its_own_reference(trained, tmp_path):
    """No second fp32 trunk is exported: the int8 one is quantised from the folder's own."""
    from engine.export import export_gguf

    folder = export_gguf(trained[0], tmp_path / "gguf", "f32", int8_images=trained[1][:2]).mmproj
    record = json.loads((folder / "manifest.json").read_text())["int8"]
    assert record["images"] == 2 and record["reports_identical"] == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "projector.npz", "trunk.int8.onnx", "trunk.int8.onnx.data",
        "trunk.onnx", "trunk.onnx.data",
    ]  # fmt: skip
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".int8-")]
