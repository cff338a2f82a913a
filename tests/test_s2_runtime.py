"""Bunny's image rows without torch: the trunk exported to ONNX and run by ONNX Runtime, S²
and the projector in numpy, against the torch path (``BunnyModel.image_rows``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import SCALES, write_bunny
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from engine.export._s2_vision import export_s2_vision  # noqa: E402
from jradi_desktop.architectures.bunny_s2 import (  # noqa: E402
    BunnyModel,
    S2VisionEncoder,
    VisionFilesError,
    _s2,
    read_tensors,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("s2-onnx")
    write_bunny(root / "bunny")
    export_s2_vision(root / "bunny", root / "vision", outtype="f32")
    return root / "bunny", root / "vision"


def _torch_rows(folder: Path, image: Image.Image) -> np.ndarray:
    model = BunnyModel(json.loads((folder / "config.json").read_text()), read_tensors(folder))
    with torch.no_grad():
        pixels = torch.from_numpy(_s2.normalise(image, SCALES[-1]))[None]
        return model.image_rows(pixels)[0].numpy()


def test_onnx_rows_match_torch(exported: tuple[Path, Path]) -> None:
    bunny, vision = exported
    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (50, 70, 3), np.uint8))
    encoder = S2VisionEncoder(vision, threads=1)
    rows = encoder.encode(image)
    assert rows.shape == (encoder.manifest.tokens, encoder.manifest.embedding_width)
    assert np.abs(rows - _torch_rows(bunny, image)).max() <= 1e-4
    manifest = json.loads((vision / "manifest.json").read_text())
    assert manifest["scales"] == list(SCALES) and manifest["trunk_layers"] == 2


def test_fp16_export_runs(exported: tuple[Path, Path], tmp_path: Path) -> None:
    bunny, _ = exported
    export_s2_vision(bunny, tmp_path / "v16", outtype="f16")
    image = Image.new("RGB", (40, 40), (90, 120, 150))
    rows = S2VisionEncoder(tmp_path / "v16", threads=1).encode(image)
    want = _torch_rows(bunny, image)
    assert np.abs(rows - want).max() <= 0.05 * np.abs(want).max()


def test_the_runtime_imports_no_torch(exported: tuple[Path, Path]) -> None:
    _, vision = exported
    code = (
        "import sys; from PIL import Image\n"
        "from jradi_desktop.architectures.bunny_s2 import S2VisionEncoder\n"
        f"S2VisionEncoder({str(vision)!r}, threads=1).encode(Image.new('L', (9, 5)))\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _copy(vision: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(vision, tmp_path / "vision"))


def test_bad_vision_files_are_named(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, vision = exported
    image = Image.new("RGB", (8, 8))
    broken = _copy(vision, tmp_path)
    (broken / "trunk.onnx").write_bytes(b"not onnx")
    with pytest.raises(VisionFilesError, match=r"trunk\.onnx: ONNX Runtime cannot load it"):
        S2VisionEncoder(broken).encode(image)

    shutil.rmtree(broken)
    broken = _copy(vision, tmp_path)
    (broken / "projector.npz").unlink()
    with pytest.raises(VisionFilesError, match=r"projector\.npz: named in manifest\.json"):
        S2VisionEncoder(broken)

    shutil.rmtree(broken)
    broken = _copy(vision, tmp_path)
    manifest = json.loads((broken / "manifest.json").read_text())
    (broken / "manifest.json").write_text(json.dumps({**manifest, "embedding_width": 4096}))
    with pytest.raises(VisionFilesError, match=r"'2\.weight' has shape .* needs \(4096, \*\)"):
        S2VisionEncoder(broken)

    (broken / "manifest.json").write_text("[]")
    with pytest.raises(VisionFilesError, match="not a jradi-s2-vision manifest"):
        S2VisionEncoder(broken)
