"""A Bunny folder in half precision: bf16 on the CPU here, and the HF backend's CUDA path
(bf16 or fp16, every part on the GPU) where a GPU is visible. Only the dtype and device
handling is checked; exact tokens are test_bunny.py's (float32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import HIDDEN, write_bunny
from PIL import Image

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bunny-half") / "Bunny-tiny"
    write_bunny(path, seed=4)
    return path


def _image() -> Image.Image:
    return Image.fromarray(np.random.default_rng(9).integers(0, 256, (36, 52, 3), np.uint8))


def _rows(folder: Path, dtype: torch.dtype, device: str) -> torch.Tensor:
    from jradi_desktop.architectures.bunny_s2 import load_bunny

    model = load_bunny(folder, dtype, device)
    for part in (model.language, model.vision, model.projector):
        assert {(p.dtype, p.device.type) for p in part.parameters()} == {(dtype, device)}
    with torch.inference_mode():
        rows = model.image_rows(model.pixels(_image()))
        embeds = model.embed([0, 5, -200, 6], rows)
        logits = model.language(inputs_embeds=embeds).logits
    assert rows.dtype == embeds.dtype == dtype and embeds.shape == (1, 3 + 9, HIDDEN)
    assert torch.isfinite(logits).all()
    return rows[0].float().cpu()


def test_bf16_on_the_cpu_is_close_to_float32(folder: Path) -> None:
    full = _rows(folder, torch.float32, "cpu")
    half = _rows(folder, torch.bfloat16, "cpu")
    assert (half - full).abs().max() <= 0.05 * full.abs().max()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_the_hf_backend_runs_bunny_on_the_gpu(folder: Path) -> None:
    from jradi_desktop.inference import GenerationParams, build_report_messages, create_backend
    from jradi_desktop.models import ModelSpec

    full = _rows(folder, torch.float32, "cpu")
    gpu = _rows(folder, torch.float16, "cuda")
    assert (gpu - full).abs().max() <= 0.02 * full.abs().max()
    with create_backend(ModelSpec("bunny", "hf", folder)) as backend:
        assert backend.device == "cuda"
        model = backend._bunny.model
        assert model.device.type == "cuda" and model.language.dtype in (
            torch.bfloat16,
            torch.float16,
        )
        params = GenerationParams(max_new_tokens=16)
        pieces = list(backend.generate(build_report_messages(), [_image()], params))
        assert pieces and backend.finish_reason in ("stop", "length")
        assert 0 < backend.generated_tokens <= 16
