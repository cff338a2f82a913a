"""The clinician benchmark's model writer at tiny widths: what it writes (model.gguf, streamed
and quantised by llama.cpp, and the S² vision folder) loads in the app's GGUF backend and
drafts a report. The real-size build (~16 GB of scratch disk) is never run here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("onnxscript")

WRITER = Path(__file__).resolve().parents[1] / "benchmarks" / "_clinician_model.py"
SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "chest_phantom.dcm"


def _writer() -> object:
    spec = importlib.util.spec_from_file_location("_clinician_model", WRITER)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_tiny_clinician_model_loads_in_the_gguf_backend_and_drafts_a_report(
    tmp_path: Path,
) -> None:
    from jradi_desktop.inference import GenerationParams, create_backend
    from jradi_desktop.models import ModelSpec
    from jradi_desktop.pipeline import generate_report

    writer = _writer()
    build = writer.build_clinician_model(tmp_path / "m", writer.TINY, fp16=False, threads=1)
    assert not build.reused
    assert sorted(p.name for p in build.folder.iterdir()) == [
        "clinician_model.json",
        "model.gguf",
        "vision",
    ]  # fmt: skip  (no f16 left behind)
    manifest = json.loads((build.vision / "manifest.json").read_text())
    assert manifest["embedding_width"] == writer.TINY.hidden
    assert manifest["model_fingerprint"].startswith("sampled-sha256:")
    again = writer.build_clinician_model(tmp_path / "m", writer.TINY, fp16=False, threads=1)
    assert again.reused

    spec = ModelSpec("tiny", "gguf", build.model, build.vision, threads=1, context=512)
    backend = create_backend(spec)
    try:
        assert backend.has_vision
        llm = backend._llm
        assert llm.n_vocab() == writer.TINY.vocab
        assert (llm.token_bos(), llm.token_eos()) == (
            writer.TINY.vocab - 16,
            writer.TINY.vocab - 15,
        )
        result = generate_report(backend, SAMPLE, model_name="tiny",
                                 params=GenerationParams(max_new_tokens=6))  # fmt: skip
        assert result.text.strip()
        assert backend.generated_tokens <= 6
    finally:
        backend.close()
