"""Bunny through llama.cpp: the language model as GGUF, the S² image rows from ONNX Runtime
decoded as embeddings. Greedy reports equal the HF folder's and the reference's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import write_bunny
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

TOKENS = 24


def _language_folder(bunny: Path, out: Path) -> Path:
    """The Bunny's Llama as a plain Llama folder (what export-gguf writes to model.gguf)."""
    from safetensors.torch import save_file

    from jradi_desktop.architectures import get
    from jradi_desktop.architectures.bunny_s2 import read_tensors

    arch = get("bunny_s2")
    config = json.loads((bunny / "config.json").read_text())
    tensors = {}
    for key, tensor in read_tensors(bunny).items():
        split = arch.split_key(key)
        if split is not None and split[0] == "language":
            tensors[split[1]] = tensor.contiguous()
    out.mkdir()
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(arch.text_config(config)))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "generation_config.json"):  # fmt: skip
        if (bunny / name).is_file():
            shutil.copy(bunny / name, out / name)
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from engine.export import export_gguf
    from engine.export._s2_vision import export_s2_vision

    root = tmp_path_factory.mktemp("gguf-s2")
    write_bunny(root / "bunny")
    result = export_gguf(_language_folder(root / "bunny", root / "llama"), root / "gguf", "f32")
    export_s2_vision(root / "bunny", root / "gguf" / "vision", outtype="f32")
    return {"bunny": root / "bunny", "model": result.model, "vision": root / "gguf" / "vision"}


@pytest.fixture(scope="module")
def xray(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xray") / "chest.png"
    Image.fromarray(np.random.default_rng(11).integers(0, 256, (300, 240), np.uint8)).save(path)
    return path


def _report(model: Path, xray: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    from jradi_desktop.cli import main

    args = ["report", str(xray), "--model", str(model), "--json", "--threads", "1",
            "--max-new-tokens", str(TOKENS), *extra]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    (line,) = capsys.readouterr().out.splitlines()
    return json.loads(line)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_gguf_report_equals_the_hf_folder(
    exported: dict[str, Path], xray: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hf = _report(exported["bunny"], xray, capsys)
    gguf = _report(exported["model"], xray, capsys, "--mmproj", str(exported["vision"]))
    assert hf["text"].strip()
    assert gguf["text"] == hf["text"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_rows_are_encoded_once_per_image(exported: dict[str, Path]) -> None:
    from jradi_desktop.inference import GenerationParams, build_report_messages, create_backend
    from jradi_desktop.models import ModelSpec

    spec = ModelSpec("b", "gguf", exported["model"], exported["vision"], threads=1)
    image = Image.new("RGB", (64, 48), (40, 80, 120))
    params = GenerationParams(max_new_tokens=6)
    with create_backend(spec) as backend:
        first = "".join(backend.generate(build_report_messages(), [image], params))
        again = "".join(backend.generate(build_report_messages(), [image], params))
        other = Image.new("RGB", (64, 48), (200, 10, 10))
        "".join(backend.generate(build_report_messages(), [other], params))
        assert first == again
        assert backend._s2.encoder.encoded == 2


def test_a_vision_folder_for_another_width_is_refused(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    from jradi_desktop.inference import ModelLoadError, create_backend
    from jradi_desktop.models import ModelSpec

    vision = Path(shutil.copytree(exported["vision"], tmp_path / "vision"))
    manifest = json.loads((vision / "manifest.json").read_text())
    (vision / "manifest.json").write_text(json.dumps({**manifest, "embedding_width": 64}))
    with np.load(vision / "projector.npz") as npz:
        weights = dict(npz)
    weights["2.weight"], weights["2.bias"] = np.zeros((64, 32), np.float32), np.zeros(64)
    np.savez(vision / "projector.npz", **weights)
    with pytest.raises(ModelLoadError, match=r"manifest\.json: image rows are 64 wide, the model"):
        create_backend(ModelSpec("b", "gguf", exported["model"], vision, threads=1))
