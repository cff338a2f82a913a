"""Model folders that lie (issue #21, items 1-4): wrong-typed or out-of-range fields in a
vision manifest or an HF config, non-finite numbers, unbounded sizes, shard indexes that point
outside the folder. Each is refused with a message naming the file (and the field) at
``jradi models add`` and at ``jradi report``, never a traceback, never an empty report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"


@pytest.fixture(scope="module")
def exported(bunny_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo Bunny exported to GGUF f16 + vision/ (fp32), once."""
    from engine.export import export_gguf

    out = tmp_path_factory.mktemp("hostile") / "gguf"
    export_gguf(bunny_demo_dir / "vlm", out, "f16")
    return out


def _run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from jradi_desktop.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err


# -- the vision manifest ----------------------------------------------------------------------

MANIFEST_LIES: dict[str, tuple[Callable[[dict], None], str]] = {
    "scales-text": (lambda m: m.update(scales=["abc", "def", "ghi"]), "scales"),
    "scales-objects": (lambda m: m.update(scales=[{}, {}, {}]), "scales"),
    "scales-zero": (lambda m: m.update(scales=[0, 0, 0]), "scales"),
    "scales-negative": (lambda m: m.update(scales=[-56, 112, 168]), "scales"),
    "scales-huge": (lambda m: m.update(scales=[56, 112, 11200]), "scales"),
    "scales-60000": (lambda m: m.update(scales=[56, 112, 60000]), "scales"),
    "mean-list": (lambda m: m.update(mean=[1]), "mean"),
    "mean-nan": (lambda m: m.update(mean=float("nan")), "mean"),
    "std-zero": (lambda m: m.update(std=0), "std"),
    "pad-text": (lambda m: m.update(pad_colour=["x", "y", "z"]), "pad_colour"),
    "pad-range": (lambda m: m.update(pad_colour=[300, 0, 0]), "pad_colour"),
    "tokens-negative": (lambda m: m.update(tokens=-1), "tokens"),
    "dtype": (lambda m: m.update(dtype="int4"), "dtype"),
    "trunk-outside": (lambda m: m.update(trunk="../model.gguf"), "trunk"),
}


def _lying_export(exported: Path, tmp_path: Path, edit: Callable[[dict], None]) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    path = folder / "vision" / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("name", MANIFEST_LIES)
def test_a_lying_vision_manifest_is_refused_naming_the_field(
    exported, tmp_path, monkeypatch, capsys, name
):
    edit, field = MANIFEST_LIES[name]
    folder = _lying_export(exported, tmp_path, edit)
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    code, _, err = _run("models", "add", str(folder / "model.gguf"), capsys=capsys)
    assert code == 1
    assert "manifest.json" in err and field in err, err
    code, out, _ = _run("report", str(SAMPLE), "--model", str(folder / "model.gguf"), "--json",
                          "--max-new-tokens", "4", capsys=capsys)  # fmt: skip
    assert code == 1 and "manifest.json" in err + out and field in err + out


def test_a_nan_projector_fails_the_report_instead_of_writing_nothing(exported, tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    path = folder / "vision" / "projector.npz"
    with np.load(path) as npz:
        weights = {k: npz[k] for k in npz.files}
    weights["2.weight"][0, 0] = np.nan
    np.savez(path, **weights)
    code, out, _ = _run("report", str(SAMPLE), "--model", str(folder / "model.gguf"), "--json",
                          "--max-new-tokens", "4", capsys=capsys)  # fmt: skip
    assert code == 1
    line = json.loads(out.splitlines()[-1])
    assert "finite" in line["error"] and "projector" in line["error"]


# -- the Hugging Face folder ------------------------------------------------------------------


def _config_edit(key: str, value: object) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        target = config
        *path, last = key.split(".")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value

    return edit


CONFIG_LIES = {
    "select-layer-text": (_config_edit("mm_vision_select_layer", "abc"), "mm_vision_select_layer"),
    "vision-config-text": (_config_edit("vision_config", "abc"), "vision_config"),
    "vision-heads-zero": (
        _config_edit("vision_config.num_attention_heads", 0),
        "num_attention_heads",
    ),
    "eps-text": (_config_edit("vision_config.layer_norm_eps", "x"), "layer_norm_eps"),
    "mm-hidden-text": (_config_edit("mm_hidden_size", "abc"), "mm_hidden_size"),
    "s2-scales-huge": (_config_edit("s2_scales", "56,112,11200"), "s2_scales"),
}


def _hf_copy(bunny_demo_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "vlm"
    shutil.copytree(bunny_demo_dir / "vlm", folder)
    return folder


@pytest.mark.parametrize("name", CONFIG_LIES)
def test_a_lying_hf_config_is_refused_naming_the_field(
    bunny_demo_dir, tmp_path, monkeypatch, capsys, name
):
    edit, field = CONFIG_LIES[name]
    folder = _hf_copy(bunny_demo_dir, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    code, _, err = _run("models", "add", str(folder), capsys=capsys)
    assert code == 1 and "config.json" in err and field in err, err


def _index(folder: Path) -> tuple[Path, dict]:
    path = folder / "model.safetensors.index.json"
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("where", ["parent", "absolute", "etc-passwd"])
def test_a_shard_index_pointing_outside_the_folder_is_refused(
    bunny_demo_dir, tmp_path, monkeypatch, capsys, where
):
    folder = _hf_copy(bunny_demo_dir, tmp_path)
    path, index = _index(folder)
    shard = sorted(set(index["weight_map"].values()))[0]
    outside = tmp_path / "outside.safetensors"
    shutil.copy(folder / shard, outside)
    target = {"parent": "../outside.safetensors", "absolute": str(outside),
              "etc-passwd": "/etc/passwd"}[where]  # fmt: skip
    index["weight_map"] = {k: target if v == shard else v for k, v in index["weight_map"].items()}
    path.write_text(json.dumps(index))
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    code, _, err = _run("models", "add", str(folder), capsys=capsys)
    assert code == 1 and "model.safetensors.index.json" in err and "outside" in err, err


@pytest.mark.parametrize("lie", ["int-values", "shape-text"])
def test_lying_index_values_and_tensor_shapes_are_refused(
    bunny_demo_dir, tmp_path, monkeypatch, capsys, lie
):
    import struct

    folder = _hf_copy(bunny_demo_dir, tmp_path)
    path, index = _index(folder)
    if lie == "int-values":
        index["weight_map"] = {k: 1 for k in index["weight_map"]}
        path.write_text(json.dumps(index))
        named = "model.safetensors.index.json"
    else:
        shard = folder / sorted(set(index["weight_map"].values()))[0]
        data = shard.read_bytes()
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + length])
        name = next(k for k in header if k != "__metadata__")
        header[name]["shape"] = ["a", *header[name]["shape"][1:]]
        raw = json.dumps(header, separators=(",", ":")).encode().ljust(length)
        assert len(raw) == length
        shard.write_bytes(data[:8] + raw + data[8 + length :])
        named = shard.name
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    code, _, err = _run("models", "add", str(folder), capsys=capsys)
    assert code == 1 and named in err, err


def test_nan_weights_in_an_hf_folder_fail_the_report(bunny_demo_dir, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    folder = _hf_copy(bunny_demo_dir, tmp_path)
    for shard in folder.glob("*.safetensors"):
        tensors = load_file(shard)
        for key, tensor in tensors.items():
            if "embed_tokens" in key:
                tensor.fill_(float("nan"))
                save_file(tensors, shard, metadata={"format": "pt"})
    code, out, _ = _run("report", str(SAMPLE), "--model", str(folder), "--json",
                          "--max-new-tokens", "4", capsys=capsys)  # fmt: skip
    assert code == 1
    line = json.loads(out.splitlines()[-1])
    assert "finite" in line["error"], line


def test_a_model_bigger_than_this_computers_memory_is_refused_or_warned(exported):
    """The estimate against the machine (psutil): a CPU model that needs more than all its
    memory is refused; one that may offload to a GPU gets a warning naming the sizes."""
    import psutil

    from jradi_desktop.models import ModelCheckError, ModelSpec, check_model

    total = psutil.virtual_memory().total
    context = 2 * total // 256  # the demo's f16 KV cache: 256 bytes per position
    spec = ModelSpec("big", "gguf", exported / "model.gguf", exported / "vision",
                     context=context, n_gpu_layers=0)  # fmt: skip
    with pytest.raises(ModelCheckError, match=r"needs about [\d.]+ GiB of memory, but this "):
        check_model(spec)
    spec.n_gpu_layers = -1  # all layers on a GPU, where there is one
    warnings = check_model(spec).warnings
    assert any("GiB is free now" in w and "GiB のメモリが必要" in w for w in warnings)


@pytest.mark.gui
def test_the_model_manager_opens_and_names_the_field_of_a_registered_model_that_now_lies(
    exported, tmp_path, qtbot
):
    """A Bunny registered while sound whose manifest was edited since: the dialog opens and
    shows why the model cannot be used (it crashed opening before)."""
    from jradi_desktop.models import ModelRegistry, ModelSpec
    from jradi_desktop.ui.model_manager import ModelManagerDialog

    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    registry = ModelRegistry(tmp_path / "models.json")
    registry.add(ModelSpec("bunny", "gguf", folder / "model.gguf", folder / "vision"))
    manifest = json.loads((folder / "vision" / "manifest.json").read_text())
    manifest["scales"] = ["abc", 112, 168]
    (folder / "vision" / "manifest.json").write_text(json.dumps(manifest))
    dialog = ModelManagerDialog(registry)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.table.setCurrentItem(dialog.table.topLevelItem(0))
    details = dialog.details.text()
    assert "manifest.json" in details and "scales" in details
