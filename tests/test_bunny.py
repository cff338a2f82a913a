"""Bunny-v1.1 without its custom code, against a reference written here from bunny-v1.1.md.

The checkpoint is made in the test in Bunny's layout (§2: flat ``model.*`` keys, the vision
tower under ``model.vision_tower.vision_tower.vision_model.``, ``model.mm_projector.{0,2}``)
at other sizes than the real model, non-default ``s2_scales``, two shards + index, and an
``auto_map`` whose code files are absent. The reference shares no code with the
implementation: SigLIP, S², the projector and the Llama are written out from §3 and §7.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import (
    HEADS,
    HIDDEN,
    KV_HEADS,
    LAYERS,
    PATCH,
    SCALES,
    V_HEADS,
    V_LAYERS,
    VISION,
    WIDTH,
    write_bunny,
)
from PIL import Image

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(scope="module", autouse=True)
def _cpu_only() -> object:
    """The comparisons are in float32: the backends (here and in worker processes) run on the
    CPU even where a GPU would give bf16. tests/test_bunny_cuda.py runs the GPU path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CUDA_VISIBLE_DEVICES", "")
        patch.setattr(torch.cuda, "is_available", lambda: False)
        yield


# -- the reference, from bunny-v1.1.md ---------------------------------------------------------


def _layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-6) * w + b


def _siglip_hidden_minus_2(crops: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """§6-§7: patch conv (kernel = stride = patch), row-major positions, pre-LN blocks with
    tanh-GELU MLPs; the output of the second-to-last layer, before post_layernorm."""
    p = {k.removeprefix(VISION): v for k, v in t.items() if k.startswith(VISION)}
    conv = p["embeddings.patch_embedding.weight"], p["embeddings.patch_embedding.bias"]
    x = F.conv2d(crops, *conv, stride=PATCH)
    x = x.flatten(2).transpose(1, 2) + p["embeddings.position_embedding.weight"]
    head_dim = WIDTH // V_HEADS
    for i in range(V_LAYERS - 1):  # hidden_states[-2]
        q = f"encoder.layers.{i}."
        h = _layer_norm(x, p[q + "layer_norm1.weight"], p[q + "layer_norm1.bias"])

        def lin(z: torch.Tensor, name: str, q: str = q) -> torch.Tensor:
            return z @ p[q + name + ".weight"].T + p[q + name + ".bias"]

        def heads(z: torch.Tensor) -> torch.Tensor:
            return z.reshape(z.shape[0], z.shape[1], V_HEADS, head_dim).transpose(1, 2)

        qh, kh, vh = (heads(lin(h, f"self_attn.{n}")) for n in ("q_proj", "k_proj", "v_proj"))
        att = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(head_dim), dim=-1) @ vh
        x = x + lin(att.transpose(1, 2).reshape(x.shape), "self_attn.out_proj")
        h = _layer_norm(x, p[q + "layer_norm2.weight"], p[q + "layer_norm2.bias"])
        x = x + lin(F.gelu(lin(h, "mlp.fc1"), approximate="tanh"), "mlp.fc2")
    return x


def reference_image_rows(
    image: Image.Image, t: dict[str, torch.Tensor], scales: tuple[int, ...] = SCALES
) -> torch.Tensor:
    """§3 steps 1-9 for one image: [tokens, HIDDEN]. Bunny-v1.0: one scale, one pass."""
    w, h = image.size
    side = max(w, h)
    square = Image.new("RGB", (side, side), (127, 127, 127))
    square.paste(image, ((side - w) // 2, (side - h) // 2))
    big = square.resize((scales[-1], scales[-1]), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(big, np.float32) / 255).permute(2, 0, 1)[None]
    x = (x - 0.5) / 0.5
    grids = []
    for scale in scales:
        n = math.ceil(scale / scales[0])
        xs = F.interpolate(x, size=scale, mode="bicubic")
        c = scales[0]
        crops = torch.cat([xs[..., i * c : (i + 1) * c, j * c : (j + 1) * c]
                           for i in range(n) for j in range(n)])  # fmt: skip
        rows = _siglip_hidden_minus_2(crops, t)  # [n*n, g*g, W]
        g = scales[0] // PATCH
        per_crop = rows.transpose(1, 2).reshape(n * n, WIDTH, g, g)
        merged = torch.cat([torch.cat(list(per_crop[i * n : (i + 1) * n]), dim=-1)
                            for i in range(n)], dim=-2)  # fmt: skip
        grids.append(F.interpolate(merged[None], size=g, mode="area"))
    features = torch.cat(grids, dim=1).flatten(2).transpose(1, 2)[0]
    hidden = features @ t["model.mm_projector.0.weight"].T + t["model.mm_projector.0.bias"]
    hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    return hidden @ t["model.mm_projector.2.weight"].T + t["model.mm_projector.2.bias"]


@pytest.fixture(scope="module")
def bunny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    folder = tmp_path_factory.mktemp("bunny") / "Bunny-tiny"
    tensors = write_bunny(folder)
    return folder, {k: torch.from_numpy(v) for k, v in tensors.items()}


def test_image_rows_match_the_reference(bunny: tuple[Path, dict[str, torch.Tensor]]) -> None:
    from jradi_desktop.architectures import _s2
    from jradi_desktop.architectures._bunny_torch import BunnyModel, read_tensors

    folder, tensors = bunny
    config = json.loads((folder / "config.json").read_text())
    model = BunnyModel(config, read_tensors(folder))
    image = Image.fromarray(np.random.default_rng(7).integers(0, 256, (50, 80, 3), np.uint8))
    pixels = torch.from_numpy(_s2.normalise(image, SCALES[-1]))[None]
    with torch.no_grad():
        got = model.image_rows(pixels)[0]
        want = reference_image_rows(image, tensors)
    assert got.shape == (9, HIDDEN)
    assert (got - want).abs().max() <= 1e-5


def _rms(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def reference_logits(embeds: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Llama-3 (§7: RMSNorm 1e-5, rope theta 500000, GQA, SiLU MLP), causal over all rows;
    the last position's logits."""
    n, head_dim = embeds.shape[0], HIDDEN // HEADS
    inv = 1.0 / (500000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.arange(n, dtype=torch.float32)[:, None] * inv[None]
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)

    def rope(z: torch.Tensor) -> torch.Tensor:  # [heads, n, d]
        half = head_dim // 2
        return z * cos + torch.cat([-z[..., half:], z[..., :half]], -1) * sin

    x = embeds
    mask = torch.full((n, n), float("-inf")).triu(1)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = _rms(x, t[p + "input_layernorm.weight"])
        q = (h @ t[p + "self_attn.q_proj.weight"].T).reshape(n, HEADS, head_dim).transpose(0, 1)
        k = (h @ t[p + "self_attn.k_proj.weight"].T).reshape(n, KV_HEADS, head_dim).transpose(0, 1)
        v = (h @ t[p + "self_attn.v_proj.weight"].T).reshape(n, KV_HEADS, head_dim).transpose(0, 1)
        k, v = (z.repeat_interleave(HEADS // KV_HEADS, 0) for z in (k, v))
        att = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(head_dim) + mask, -1)
        x = x + (att @ v).transpose(0, 1).reshape(n, HIDDEN) @ t[p + "self_attn.o_proj.weight"].T
        h = _rms(x, t[p + "post_attention_layernorm.weight"])
        gate = F.silu(h @ t[p + "mlp.gate_proj.weight"].T) * (h @ t[p + "mlp.up_proj.weight"].T)
        x = x + gate @ t[p + "mlp.down_proj.weight"].T
    return _rms(x, t["model.norm.weight"])[-1] @ t["lm_head.weight"].T


def test_first_step_logits_match_the_reference(
    bunny: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    from jradi_desktop.architectures import _s2
    from jradi_desktop.architectures._bunny_torch import BunnyModel, read_tensors

    folder, tensors = bunny
    model = BunnyModel(json.loads((folder / "config.json").read_text()), read_tensors(folder))
    image = Image.fromarray(np.random.default_rng(8).integers(0, 256, (40, 40, 3), np.uint8))
    chunk0, chunk1 = [1, 10, 11, 12], [13, 14]  # BOS on chunk 0 only (§4)
    with torch.no_grad():
        rows = model.image_rows(torch.from_numpy(_s2.normalise(image, SCALES[-1]))[None])
        embeds = model.embed([*chunk0, -200, *chunk1], rows)
        got = model.language(inputs_embeds=embeds).logits[0, -1]
        table = tensors["model.embed_tokens.weight"]
        want_embeds = torch.cat([table[chunk0], reference_image_rows(image, tensors),
                                 table[chunk1]])  # fmt: skip
        want = reference_logits(want_embeds, tensors)
    assert embeds.shape == (1, 4 + 9 + 2, HIDDEN)
    assert (got - want).abs().max() <= 1e-4


# -- running a Bunny folder: jradi report / ask, the HF backend, the worker -------------------

SYSTEM = (  # Bunny's default system message (§4)
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
REPORT_TOKENS = 24


def reference_greedy(embeds: torch.Tensor, t: dict[str, torch.Tensor], eos: set[int],
                     limit: int) -> list[int]:  # fmt: skip
    """Greedy decoding with the reference Llama, one full forward per token: argmax, stop
    after an eos id (§4: 128001 and 128009 for Bunny-v1.1) or ``limit`` tokens."""
    tokens: list[int] = []
    while len(tokens) < limit:
        token = int(reference_logits(embeds, t).argmax())
        tokens.append(token)
        if token in eos:
            break
        embeds = torch.cat([embeds, t["model.embed_tokens.weight"][token][None]])
    return tokens


class Reference:
    """The folder's tokenizer and tensors; prompts assembled here from §4."""

    def __init__(self, folder: Path, tensors: dict[str, torch.Tensor]) -> None:
        from transformers import PreTrainedTokenizerFast

        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
        self.tensors = tensors
        self.eos = {self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|eot_id|>")}

    def report(self, image: Image.Image, prompt: str, scales: tuple[int, ...] = SCALES,
               limit: int = REPORT_TOKENS) -> tuple[list[int], str]:  # fmt: skip
        """ "<SYSTEM> USER: <image>\\n{prompt} ASSISTANT:" split at <image>, each chunk with
        BOS, chunk 1's BOS dropped, the image rows in between."""
        text = f"{SYSTEM} USER: <image>\n{prompt} ASSISTANT:"
        chunk0, chunk1 = (self.tokenizer(c).input_ids for c in text.split("<image>"))
        assert chunk0[0] == chunk1[0] == self.tokenizer.bos_token_id
        table = self.tensors["model.embed_tokens.weight"]
        with torch.no_grad():
            rows = reference_image_rows(image, self.tensors, scales)
            embeds = torch.cat([table[chunk0], rows, table[chunk1[1:]]])
            tokens = reference_greedy(embeds, self.tensors, self.eos, limit)
        return tokens, self.tokenizer.decode(tokens, skip_special_tokens=True)

    def chat(self, system: str, question: str, limit: int) -> tuple[list[int], str]:
        ids = self.tokenizer(f"{system} USER: {question} ASSISTANT:").input_ids
        with torch.no_grad():
            embeds = self.tensors["model.embed_tokens.weight"][ids]
            tokens = reference_greedy(embeds, self.tensors, self.eos, limit)
        return tokens, self.tokenizer.decode(tokens, skip_special_tokens=True)


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
    from jradi_desktop.architectures._bunny_torch import BunnyModel
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
