"""Running a Bunny folder against the reference: jradi report / ask, the HF backend, the app's
worker, and the one clear load error of a broken folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import LAYERS, PATCH, SCALES, VISION, WIDTH, write_bunny
from bunny_reference import REPORT_TOKENS, SYSTEM, Reference, reference_image_rows
from PIL import Image

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("cpu_only")  # float32 on the CPU, as the reference


# -- running a Bunny folder: jradi report / ask, the HF backend, the worker -------------------


@pytest.fixture(scope="module")
def reference(bunny: tuple[Path, dict[str, torch.Tensor]]) -> Reference:
    return Reference(*bunny)


@pytest.fixture(scope="module")
def xray(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A grayscale PNG, not square (the app renders it to 512 x 512 RGB, as JRadiEvo does)."""
    path = tmp_path_factory.mktemp("xray") / "chest.png"
    rng = np.random.default_rng(11)
    Image.fromarray(rng.integers(0, 256, (300, 240), np.uint8), mode="L").save(path)
    return path


@pytest.fixture(scope="module")
def report_reference(reference: Reference, xray: Path) -> tuple[list[int], str]:
    from jradi_desktop.imaging import open_image, to_model_rgb
    from jradi_desktop.inference import REPORT_PROMPT

    return reference.report(to_model_rgb(open_image(xray)), REPORT_PROMPT)


@pytest.fixture(scope="module")
def backend(bunny: tuple[Path, dict[str, torch.Tensor]]) -> object:
    from jradi_desktop.inference import create_backend
    from jradi_desktop.models import ModelSpec

    with create_backend(ModelSpec("bunny", "hf", bunny[0])) as loaded:
        yield loaded


def _finish(tokens: list[int], eos: set[int], limit: int) -> str:
    return "stop" if tokens[-1] in eos or len(tokens) < limit else "length"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_jradi_report_gives_the_reference_greedy_tokens(
    bunny: tuple[Path, dict[str, torch.Tensor]],
    xray: Path,
    report_reference: tuple[list[int], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jradi_desktop.cli import main

    args = ["report", str(xray), "--model", str(bunny[0]), "--json",
            "--max-new-tokens", str(REPORT_TOKENS)]  # fmt: skip
    assert main(args) == 0
    (line,) = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    tokens, text = report_reference
    assert len(tokens) >= 8 and text.strip()
    assert result["text"] == text
    assert result["model"] == "Bunny-tiny" and result["image"] == str(xray)


def test_backend_pads_a_non_square_image_as_bunny_does(
    backend: object, reference: Reference
) -> None:
    from jradi_desktop.inference import REPORT_PROMPT, GenerationParams, build_report_messages

    image = Image.fromarray(np.random.default_rng(5).integers(0, 256, (30, 70, 3), np.uint8))
    tokens, text = reference.report(image, REPORT_PROMPT)
    params = GenerationParams(max_new_tokens=REPORT_TOKENS)
    pieces = list(backend.generate(build_report_messages(), [image], params))
    assert "".join(pieces) == text and len(pieces) > 1  # streamed
    assert backend.generated_tokens == len(tokens)
    assert backend.finish_reason == _finish(tokens, reference.eos, REPORT_TOKENS)
    assert backend.has_vision and backend.device == "cpu"
    # stretched to a square instead of padded, the image gives other rows
    stretched = image.resize((70, 70), Image.Resampling.BICUBIC)
    assert not torch.allclose(reference_image_rows(image, reference.tensors),
                              reference_image_rows(stretched, reference.tensors))  # fmt: skip


def test_backend_follows_the_sampling_settings_and_stops(backend: object) -> None:
    from jradi_desktop.inference import GenerationParams, build_report_messages

    image = Image.new("RGB", (40, 40), (90, 90, 90))
    sampled = GenerationParams(max_new_tokens=12, temperature=1.5, top_p=0.9, seed=3)
    first = "".join(backend.generate(build_report_messages(), [image], sampled))
    assert "".join(backend.generate(build_report_messages(), [image], sampled)) == first
    greedy = "".join(backend.generate(build_report_messages(), [image], GenerationParams(12)))
    assert first != greedy  # the seed and temperature were used
    stop = greedy.strip("\ufffd")[3:5]
    cut = GenerationParams(max_new_tokens=12, stop=(stop,))
    assert (
        "".join(backend.generate(build_report_messages(), [image], cut))
        == greedy[: greedy.index(stop)]
    )
    assert backend.finish_reason == "stop"


def test_cancel_stops_a_bunny_reply(backend: object) -> None:
    import threading

    from jradi_desktop.inference import GenerationParams

    stream = backend.generate([{"role": "user", "content": "所見"}], (),
                              GenerationParams(max_new_tokens=400))  # fmt: skip
    next(stream)
    canceller = threading.Thread(target=backend.cancel)
    canceller.start()
    canceller.join()
    assert list(stream) == [] and backend.finish_reason == "cancelled"
    assert backend.generated_tokens < 400


def test_prompt_ids_are_assembled_as_bunny_does(
    bunny: tuple[Path, dict[str, torch.Tensor]], backend: object, reference: Reference
) -> None:
    """§4 on the backend's ids: one BOS, <image> chunks tokenised apart, -200 in between;
    the Bunny template for ``auto`` although the tokenizer carries Llama-3's."""
    from dataclasses import replace

    from jradi_desktop.inference import create_backend

    tok = reference.tokenizer
    assert "start_header_id" in (tok.chat_template or "")  # the base LLM's, not Bunny's
    parts = [{"type": "image"}, {"type": "text", "text": "A"}] * 2
    ids = backend._bunny.prompt_ids([{"role": "user", "content": parts}], backend._template)
    text = f"{SYSTEM} USER: <image>\nA<image>\nA ASSISTANT:"
    chunks = [tok(chunk).input_ids for chunk in text.split("<image>")]
    assert ids == [*chunks[0], -200, *chunks[1][1:], -200, *chunks[2][1:]]
    with create_backend(replace(backend.spec, template="llama3")) as llama3:
        ids = llama3._bunny.prompt_ids([{"role": "user", "content": "A"}], llama3._template)
    assert ids[:2] == [tok.bos_token_id, tok.convert_tokens_to_ids("<|start_header_id|>")]


def test_a_prompt_longer_than_the_context_is_refused_before_the_image_is_encoded(
    bunny: tuple[Path, dict[str, torch.Tensor]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jradi_desktop.architectures.bunny_s2 import BunnyModel
    from jradi_desktop.inference import PromptTooLongError, build_report_messages, create_backend
    from jradi_desktop.models import ModelSpec

    def never(*args: object) -> None:
        raise AssertionError("the image was encoded")

    monkeypatch.setattr(BunnyModel, "image_rows", never)
    with create_backend(ModelSpec("short", "hf", bunny[0], context=64)) as short:
        n = len(short._bunny.prompt_ids(build_report_messages(), short._template)) - 1 + 9
        with pytest.raises(PromptTooLongError, match=rf"input \({n} tokens\).*context of 64"):
            list(short.generate(build_report_messages(), [Image.new("RGB", (8, 8))]))


def test_bunny_v1_0_runs_one_pass(tmp_path: Path) -> None:
    from jradi_desktop.inference import (
        REPORT_PROMPT,
        GenerationParams,
        build_report_messages,
        create_backend,
    )
    from jradi_desktop.models import ModelSpec

    folder = tmp_path / "Bunny-v1.0"
    changes = {"use_s2": False, "s2_scales": None, "mm_hidden_size": WIDTH}
    tensors = write_bunny(folder, seed=2, config_changes=changes, projector_width=WIDTH)
    config = json.loads((folder / "config.json").read_text())
    assert "use_s2" in config and not config["use_s2"]
    reference = Reference(folder, {k: torch.from_numpy(v) for k, v in tensors.items()})
    image = Image.fromarray(np.random.default_rng(6).integers(0, 256, (45, 30, 3), np.uint8))
    tokens, text = reference.report(image, REPORT_PROMPT, scales=(SCALES[0],))
    with create_backend(ModelSpec("v1.0", "hf", folder)) as backend:
        params = GenerationParams(max_new_tokens=REPORT_TOKENS)
        assert "".join(backend.generate(build_report_messages(), [image], params)) == text
        assert backend.generated_tokens == len(tokens)
        assert backend._bunny.model.image_tokens == (SCALES[0] // PATCH) ** 2


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_jradi_ask_on_a_bunny_folder_is_text_only(
    bunny: tuple[Path, dict[str, torch.Tensor]],
    reference: Reference,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jradi_desktop.cli import main
    from jradi_desktop.inference import QA_SYSTEM_PROMPT

    question = "胸水の原因は？"
    assert main(["ask", question, "--model", str(bunny[0]), "--max-new-tokens", "12"]) == 0
    _, text = reference.chat(QA_SYSTEM_PROMPT, question, 12)
    assert capsys.readouterr().out == text + "\n"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_models_add_and_the_app_worker_stream_a_bunny_report(
    bunny: tuple[Path, dict[str, torch.Tensor]],
    xray: Path,
    report_reference: tuple[list[int], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jradi_desktop.cli import main
    from jradi_desktop.inference import GenerationParams, InferenceWorker
    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.pipeline import generate_report

    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path))
    assert main(["models", "add", str(bunny[0]), "--name", "bunny"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert out.startswith("bunny: ") and f", {LAYERS} layers" in out
    spec = ModelRegistry().get("bunny")
    assert spec.kind == "hf" and spec.has_vision and spec.architecture.name == "bunny_s2"
    pieces: list[str] = []
    with InferenceWorker(spec) as worker:
        result = generate_report(worker, xray, model_name="bunny", on_piece=pieces.append,
                                 params=GenerationParams(max_new_tokens=REPORT_TOKENS))  # fmt: skip
        assert worker.info["backend"] == "hf" and worker.info["has_vision"]
        assert worker.generated_tokens == len(report_reference[0])
    assert len(pieces) > 1 and result.text == "".join(pieces) == report_reference[1]


# -- a broken Bunny folder: one clear error naming the file and the tensor ---------------------


def _broken(folder: Path, tmp_path: Path, how: str) -> tuple[Path, list[str]]:
    """A copy of ``folder`` broken ``how``; the words its error must hold."""
    import shutil

    from safetensors.numpy import load_file, save_file

    broken = tmp_path / f"broken-{how}"
    shutil.copytree(folder, broken)
    index = json.loads((broken / "model.safetensors.index.json").read_text())["weight_map"]
    if how == "missing-shard":
        (broken / "model-00002-of-00002.safetensors").unlink()
        return broken, ["model-00002-of-00002.safetensors", "is missing"]
    if how == "vision-shape":
        key = VISION + "encoder.layers.1.mlp.fc1.weight"
        shard = broken / index[key]
        tensors = load_file(shard)
        tensors[key] = tensors[key][:-2]
        save_file(tensors, shard, metadata={"format": "pt"})
        return broken, [str(shard), key, "has shape (38, 24)"]
    config = json.loads((broken / "config.json").read_text())
    config["mm_hidden_size"] = 2 * WIDTH
    (broken / "config.json").write_text(json.dumps(config))
    key = VISION + "embeddings.patch_embedding.weight"
    return broken, [str(broken / "config.json"), "mm_hidden_size 48", key, index[key]]


@pytest.mark.parametrize("how", ["missing-shard", "vision-shape", "mm-hidden-size"])
def test_a_broken_folder_is_a_clear_load_error(
    bunny: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path, how: str
) -> None:
    from jradi_desktop.inference import ModelLoadError, create_backend
    from jradi_desktop.models import ModelSpec

    broken, words = _broken(bunny[0], tmp_path, how)
    with pytest.raises(ModelLoadError) as info:
        create_backend(ModelSpec("broken", "hf", broken))
    for word in words:
        assert word in info.value.message("en") and word in info.value.message("ja")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_jradi_report_on_a_broken_folder_shows_no_traceback(
    bunny: tuple[Path, dict[str, torch.Tensor]],
    xray: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jradi_desktop.cli import main

    broken, words = _broken(bunny[0], tmp_path, "vision-shape")
    assert main(["report", str(xray), "--model", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(word in err for word in words)
