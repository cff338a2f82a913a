import json

import numpy as np
import pydicom.data
import pytest
from PIL import Image

from jradi_desktop.cli import main
from jradi_desktop.imaging import Window, open_image, render

CT = pydicom.data.get_testdata_file("CT_small.dcm")


def test_render_writes_what_the_viewer_shows(tmp_path):
    out = tmp_path / "表示.png"
    assert main(["render", CT, str(out), "--window", "40,400", "--invert"]) == 0
    image = open_image(CT)
    expected = render(image, Window(40, 400, image.default_window.function), invert=True)
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_info_prints_the_metadata_as_json(capsys):
    assert main(["info", CT]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in (
        "modality",
        "photometric",
        "rows",
        "columns",
        "window_center",
        "window_width",
        "patient_name",
        "transfer_syntax",
    ):
        assert key in info
    assert info["modality"] == "CT" and info["rows"] == 128


def test_bad_image_gives_a_message_not_a_traceback(tmp_path, capsys):
    text = tmp_path / "メモ.txt"
    text.write_text("not an image")
    assert main(["info", str(text)]) == 1
    err = capsys.readouterr().err
    assert "メモ.txt" in err and "not a supported image" in err


def test_bad_window_argument_is_explained(capsys):
    with pytest.raises(SystemExit):
        main(["render", CT, "x.png", "--window", "40"])
    assert "CENTER,WIDTH" in capsys.readouterr().err


@pytest.mark.slow
def test_models_add_list_and_errors(demo_gguf, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path))
    assert (
        main(
            [
                "models",
                "add",
                str(demo_gguf["vlm"]),
                "--name",
                "デモ",
                "--mmproj",
                str(demo_gguf["mmproj"]),
            ]
        )
        == 0
    )
    assert "memory ≈" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert "* デモ\tgguf" in capsys.readouterr().out
    assert main(["models", "add", str(tmp_path / "missing.gguf")]) == 1
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_models_add_prints_the_checks_warnings(demo_dir, tmp_path, monkeypatch, capsys):
    """A folder of a family the registry does not run, shipping its own code (auto_map):
    registered (transformers may run it with allow_remote_code), and the warning is shown."""
    import shutil

    folder = tmp_path / "custom"
    shutil.copytree(demo_dir / "base", folder)
    config = json.loads((folder / "config.json").read_text())
    config |= {
        "model_type": "custom_llama",
        "architectures": ["CustomLlamaForCausalLM"],
        "auto_map": {"AutoModelForCausalLM": "modeling_custom.CustomLlamaForCausalLM"},
    }
    (folder / "config.json").write_text(json.dumps(config))  # fmt: skip
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    assert main(["models", "add", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "memory ≈" in captured.out
    assert "警告 / warning:" in captured.err and "auto_map" in captured.err
    assert "allow_remote_code" in captured.err


def _report_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["gguf", "hf"])
def test_report_on_a_dicom_is_deterministic_and_failures_do_not_stop_the_batch(
    backend, demo_dir, demo_gguf, tmp_path, capsys
):
    model = str(demo_gguf["vlm"]) if backend == "gguf" else str(demo_dir / "vlm")
    broken = tmp_path / "壊れた.dcm"
    broken.write_bytes(b"DICM but not really")
    args = ["report", CT, str(broken), "--model", model, "--json", "--max-new-tokens", "16"]
    assert main(args) == 1  # one image failed
    first = _report_lines(capsys)
    assert first[0]["image"] == CT and first[0]["text"]
    assert {"findings", "impression", "text", "model", "seconds"} <= first[0].keys()
    assert first[1]["image"] == str(broken) and "error" in first[1]
    assert main(args[:2] + args[3:]) == 0
    assert _report_lines(capsys)[0]["text"] == first[0]["text"]


@pytest.mark.slow
def test_ask_with_choices_streams_and_reads_the_letters(demo_gguf, capsys):
    args = ["ask", "肺炎の原因菌で最も多いのは？", "--model", str(demo_gguf["base"]),
            "--choices", "肺炎球菌,大腸菌,緑膿菌", "--max-new-tokens", "8"]  # fmt: skip
    assert main(args) == 0
    assert "答え / answer:" in capsys.readouterr().out


def test_engine_devices_reports_what_torch_sees(capsys):
    import torch

    from engine.cli import main

    assert main(["devices", "--events", "jsonl"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["kind"] == "result" and len(event["data"]["gpus"]) == torch.cuda.device_count()
    if not event["data"]["gpus"]:
        assert "no CUDA GPU" in event["data"]["reason"]
