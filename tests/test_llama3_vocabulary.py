"""Llama-3's vocabulary and Bunny's own prompt through both backends (issue #20): tokens
longer than 32 bytes stream whole, both backends stop on the same tokens, and multi-turn
prompts are Bunny's official ones, token for token.

On the trained demo Bunny (its tokenizer has Llama-3-like long tokens: runs of U+3000 and
"—", which its reports use), as a Hugging Face folder and as its f32 GGUF + vision/ export.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cpu_only")]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"
TOKENS = 96
END_OF_TEXT, EOT = "<|end_of_text|>", "<|eot_id|>"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from engine.demo import build_demo_models
    from engine.export import export_gguf

    root = tmp_path_factory.mktemp("trained-bunny")
    models = build_demo_models(root / "hf", seed=0, trained=True, vlm="bunny")
    gguf = export_gguf(models / "vlm", root / "gguf", "f32")
    return {"hf": models / "vlm", "gguf": gguf.model, "vision": gguf.mmproj, "root": root}


def _backend(kind: str, model: Path, vision: Path | None = None) -> object:
    from jradi_desktop.inference import create_backend
    from jradi_desktop.models import ModelSpec

    return create_backend(ModelSpec(kind, kind, model, vision, threads=1, context=4096))


def _report(backend: object) -> str:
    from jradi_desktop.imaging import open_image, to_model_rgb
    from jradi_desktop.inference import GenerationParams, build_report_messages

    image = to_model_rgb(open_image(SAMPLE))
    params = GenerationParams(max_new_tokens=TOKENS)
    return "".join(backend.generate(build_report_messages(), [image], params))


def _tokenizer(folder: Path) -> object:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)


# -- tokens longer than 32 bytes --------------------------------------------------------------


def test_every_token_of_the_vocabulary_comes_out_whole_from_llama_cpp(demo) -> None:
    """llama.cpp's bytes for each id equal the tokenizer's (byte-level BPE), the long ones
    (> 32 bytes, which llama-cpp-python's detokenize drops) included."""
    from jradi_desktop.inference._gguf import token_bytes
    from jradi_desktop.inference._llama_runtime import load_llama

    tokenizer = _tokenizer(demo["hf"])
    special = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    expected = {
        i: tokenizer.decode([i]).encode("utf-8")
        for i in range(len(tokenizer))
        if i not in special and "\ufffd" not in tokenizer.decode([i])
    }
    long_ids = [i for i, b in expected.items() if len(b) > 32]
    assert len(long_ids) >= 3, "the demo tokenizer should have tokens longer than 32 bytes"
    llm = load_llama(demo["gguf"], vocab_only=True, verbose=False)
    try:
        vocab = llm._model.vocab
        got = {i: token_bytes(vocab, i) for i in expected}
        assert [llm.detokenize([i]) for i in long_ids] == [b""] * len(long_ids)  # the bug
    finally:
        llm.close()
    assert got == expected


def test_a_report_with_long_tokens_streams_as_the_tokenizer_decodes_it(demo) -> None:
    """The trained demo indents its findings with a run of U+3000 (one token of 48 bytes):
    the GGUF stream and the HF stream are byte-identical to the tokenizer's decode of the
    greedy ids."""
    tokenizer = _tokenizer(demo["hf"])
    with _backend("hf", demo["hf"]) as hf:
        hf_text = _report(hf)
    with _backend("gguf", demo["gguf"], demo["vision"]) as gguf:
        gguf_text = _report(gguf)
    ids = tokenizer(hf_text, add_special_tokens=False).input_ids
    assert any(len(tokenizer.decode([i]).encode()) > 32 for i in ids), hf_text
    assert "\u3000" * 11 in hf_text
    assert gguf_text == hf_text == tokenizer.decode(ids)


# -- one stop set -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ends_with_eot(demo) -> dict[str, Path]:
    """The demo Bunny answering with <|eot_id|> where it wrote <|end_of_text|> (their rows of
    the output layer swapped), saved with a generation config that lists only
    <|end_of_text|>, as a fine-tune saved with the base Llama-3 config is."""
    from safetensors.torch import load_file, save_file

    from engine.export import export_gguf

    folder = demo["root"] / "eot-hf"
    shutil.copytree(demo["hf"], folder)
    tokenizer = _tokenizer(folder)
    a, b = tokenizer.convert_tokens_to_ids([END_OF_TEXT, EOT])
    for shard in folder.glob("*.safetensors"):
        tensors = load_file(shard)
        for key, tensor in tensors.items():
            if key.endswith("lm_head.weight"):
                tensor[[a, b]] = tensor[[b, a]].clone()
                save_file(tensors, shard, metadata={"format": "pt"})
    config = json.loads((folder / "generation_config.json").read_text())
    config["eos_token_id"] = a
    (folder / "generation_config.json").write_text(json.dumps(config))
    gguf = export_gguf(folder, demo["root"] / "eot-gguf", "f32")
    return {"hf": folder, "gguf": gguf.model, "vision": gguf.mmproj}


def test_both_backends_stop_at_eot_when_the_config_lists_only_end_of_text(
    demo, ends_with_eot
) -> None:
    from jradi_desktop.architectures.stops import end_of_generation_ids

    tokenizer = _tokenizer(ends_with_eot["hf"])
    eos = json.loads((ends_with_eot["hf"] / "generation_config.json").read_text())
    assert eos["eos_token_id"] == tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    assert tokenizer.convert_tokens_to_ids(EOT) in end_of_generation_ids(
        tokenizer.get_vocab(), eos["eos_token_id"]
    )
    with _backend("hf", demo["hf"]) as original:
        expected = _report(original)
    texts = {}
    for kind, args in (("hf", [ends_with_eot["hf"]]),
                       ("gguf", [ends_with_eot["gguf"], ends_with_eot["vision"]])):  # fmt: skip
        with _backend(kind, *args) as backend:
            texts[kind] = _report(backend)
            assert backend.finish_reason == "stop", kind
            assert backend.generated_tokens < TOKENS, kind
    assert texts == {"hf": expected, "gguf": expected}


# -- Bunny's multi-turn prompt ----------------------------------------------------------------


def official_prompt(system: str, turns: list[tuple[str, str]], question: str, eos: str) -> str:
    """Bunny's ``conversation.py`` ``conv_llama`` (SeparatorStyle.TWO: roles USER/ASSISTANT,
    sep " ", sep2 EOS), as its ``get_prompt`` writes it: system + sep, then each message
    as ``role + ": " + message + seps[i % 2]``, the open reply as ``role + ":"``."""
    seps = [" ", eos]
    messages = [m for q, a in turns for m in (("USER", q), ("ASSISTANT", a))]
    messages += [("USER", question), ("ASSISTANT", None)]
    prompt = system + seps[0]
    for i, (role, message) in enumerate(messages):
        prompt += f"{role}: {message}{seps[i % 2]}" if message else f"{role}:"
    return prompt


def test_two_turn_qa_prompts_are_bunnys_own_token_for_token_on_both_backends(demo) -> None:
    from jradi_desktop.inference import QA_SYSTEM_PROMPT, build_chat_messages

    tokenizer = _tokenizer(demo["hf"])
    turns = [("市中肺炎の第一選択薬は？", "アモキシシリンです。")]
    question = "ペニシリンアレルギーの場合は？"
    history = [
        {"role": r, "content": c} for q, a in turns for r, c in (("user", q), ("assistant", a))
    ]
    messages = build_chat_messages(history, question)
    text = official_prompt(QA_SYSTEM_PROMPT, turns, question, tokenizer.eos_token)
    assert "<|end_of_text|>USER: " in text  # no space after sep2
    expected = tokenizer(text).input_ids  # with BOS
    with _backend("hf", demo["hf"]) as hf:
        hf_ids = hf._bunny.prompt_ids(messages, hf._template)
    with _backend("gguf", demo["gguf"], demo["vision"]) as gguf:
        gguf_ids = gguf._s2.evaluate(messages, [])
    assert hf_ids == expected
    assert gguf_ids == expected
