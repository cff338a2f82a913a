"""The demo Bunny on the clinician's path: exported to model.gguf + vision/, run by
llama.cpp and ONNX Runtime without torch, as close to the HF folder as the formats allow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"
TOKENS = 24


@pytest.fixture(scope="module")
def demo_bunny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from engine.demo import build_demo_models
    from engine.export import export_gguf

    root = tmp_path_factory.mktemp("demo-bunny")
    models = build_demo_models(root / "hf", seed=0, vlm="bunny")
    f32 = export_gguf(models / "vlm", root / "f32", "f32")
    return {"hf": models / "vlm", "gguf": f32.model, "vision": f32.mmproj, "root": root}


def _report(model: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    from jradi_desktop.cli import main

    args = ["report", str(SAMPLE), "--model", str(model), "--json", "--threads", "1",
            "--max-new-tokens", str(TOKENS)]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    (line,) = capsys.readouterr().out.splitlines()
    return json.loads(line)


def test_demo_rows_from_onnx_match_torch(demo_bunny: dict[str, Path]) -> None:
    from jradi_desktop.architectures.bunny_s2 import S2VisionEncoder, _s2, load_bunny

    assert demo_bunny["vision"].name == "vision"
    encoder = S2VisionEncoder(demo_bunny["vision"], threads=1)
    image = Image.fromarray(np.random.default_rng(5).integers(0, 256, (90, 60, 3), np.uint8))
    model = load_bunny(demo_bunny["hf"], dtype=torch.float32)
    scales = encoder.manifest.scales
    with torch.no_grad():
        want = model.image_rows(torch.from_numpy(_s2.normalise(image, max(scales)))[None])[0]
    assert np.abs(encoder.encode(image) - want.numpy()).max() <= 1e-4


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_gguf_f32_reports_like_the_hf_folder(
    demo_bunny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    hf = _report(demo_bunny["hf"], capsys)
    gguf = _report(demo_bunny["gguf"], capsys)  # vision/ beside model.gguf is found
    assert hf["text"].strip() and gguf["text"] == hf["text"]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("quantize", ["Q8_0", "Q4_K_M"])
def test_quantised_bunny_exports_load_and_generate(
    demo_bunny: dict[str, Path], quantize: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.export import export_gguf

    result = export_gguf(demo_bunny["hf"], demo_bunny["root"] / quantize, "f16", quantize)
    assert result.quantization == quantize and (result.model.parent / "vision").is_dir()
    assert _report(result.model, capsys)["text"].strip()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_gguf_path_never_imports_torch(demo_bunny: dict[str, Path], tmp_path: Path) -> None:
    """A torch that cannot be imported, for the CLI and its worker child alike."""
    fake = tmp_path / "no-torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch must not be imported here')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent), "JRADI_DATA_DIR": str(tmp_path / "d")}
    model = str(demo_bunny["gguf"])
    args = [sys.executable, "-m", "jradi_desktop.cli", "report", str(SAMPLE), "--model", model,
            "--json", "--max-new-tokens", "8", "--threads", "1"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["text"].strip()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_killed_bunny_worker_is_reported_and_the_next_report_works(
    demo_bunny: dict[str, Path],
) -> None:
    import signal

    from jradi_desktop.imaging import open_image, to_model_rgb
    from jradi_desktop.inference import (
        GenerationParams,
        InferenceWorker,
        WorkerCrashedError,
        build_report_messages,
    )
    from jradi_desktop.models import ModelSpec

    spec = ModelSpec("demo", "gguf", demo_bunny["gguf"], demo_bunny["vision"], threads=1)
    image = to_model_rgb(open_image(SAMPLE))
    messages, params = build_report_messages(), GenerationParams(max_new_tokens=TOKENS)
    with InferenceWorker(spec) as worker:
        expected = "".join(worker.generate(messages, [image], params))
        pid = worker.pid
        stream = worker.generate(messages, [image], GenerationParams(max_new_tokens=200))
        next(stream)  # decoding has begun (the image rows are in the context)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashedError, match="SIGKILL"):
            list(stream)
        assert "".join(worker.generate(messages, [image], params)) == expected
        assert worker.pid not in (None, pid)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_bunny_worker_killed_while_encoding_is_reported_once_and_asked_again_reports(
    demo_bunny: dict[str, Path],
) -> None:
    """Killed after it took the request (here while it decodes and resizes a large image for
    the S² encoder), the death is that request's: reported once, not sent to a second child
    (a request that crashes llama.cpp would crash every child). Asked again, a fresh child
    writes the report."""
    import signal
    import threading

    import psutil

    from jradi_desktop.inference import (
        GenerationParams,
        InferenceWorker,
        WorkerCrashedError,
        build_report_messages,
    )
    from jradi_desktop.models import ModelSpec

    spec = ModelSpec("demo", "gguf", demo_bunny["gguf"], demo_bunny["vision"], threads=1)
    rng = np.random.default_rng(9)
    image = Image.fromarray(rng.integers(0, 256, (3000, 3000, 3), np.uint8))
    messages, params = build_report_messages(), GenerationParams(max_new_tokens=8)
    with InferenceWorker(spec) as worker:
        worker.wait_ready()
        pid = worker.pid
        child = psutil.Process(pid)
        busy_from = child.cpu_times().user
        outcome: list[object] = []

        def ask() -> None:
            try:
                outcome.append("".join(worker.generate(messages, [image], params)))
            except WorkerCrashedError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=ask)
        thread.start()
        while child.cpu_times().user < busy_from + 0.05:  # the child is working on the image
            assert thread.is_alive(), "the report came before the child could be killed"
        os.kill(pid, signal.SIGKILL)
        thread.join(60)
        assert len(outcome) == 1 and isinstance(outcome[0], WorkerCrashedError)
        assert "SIGKILL" in outcome[0].message("en")
        assert worker.pid is None  # no second child was started for it
        fresh = "".join(worker.generate(messages, [image], params))
        assert fresh.strip() and worker.pid not in (None, pid)
