"""Inference runtime: prompts and reply parsing, and the GGUF and HF backends on the demo
models."""

from __future__ import annotations

import pickle
import signal
import threading
import time

import pytest
from inference_helpers import HELLO, LONG, _image, _run

from jradi_desktop.inference import (
    REPORT_PROMPT,
    ChoiceAnswer,
    GenerationParams,
    InvalidRequestError,
    ModelFileNotFoundError,
    ModelLoadError,
    PromptTooLongError,
    ReportSections,
    UnknownBackendError,
    VisionNotSupportedError,
    WorkerCrashedError,
    build_chat_messages,
    build_choice_messages,
    build_report_messages,
    create_backend,
    get_backend,
    parse_answer_letters,
    parse_choice_answer,
    report_prompt,
    split_report,
)
from jradi_desktop.models import ModelSpec

PAPER_PROMPT = (
    "あなたは優秀な放射線科医です。このレントゲン写真を見て、所見文を書いてください。"
    "肺・心臓・骨に異常があるかに注目して読影してください。日本語で書いてください。"
)
VICUNA = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


# -- prompts and parsing -----------------------------------------------------------------------


def test_report_prompt_is_the_papers_text():
    assert REPORT_PROMPT == PAPER_PROMPT
    assert report_prompt() == report_prompt("  ") == PAPER_PROMPT
    assert (
        report_prompt("発熱、咳嗽。\n肺炎疑い")
        == PAPER_PROMPT + "\n臨床情報：発熱、咳嗽。 肺炎疑い"
    )
    assert build_report_messages() == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PAPER_PROMPT}]}
    ]


def test_report_messages_render_to_jradievo_prompt_in_both_backends_templates():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from jradi_desktop.inference import BUNNY_CHAT_TEMPLATE
    from jradi_desktop.inference._chat_handlers import BunnyChatHandler
    from jradi_desktop.inference._gguf import _llama_messages

    expected = f"{VICUNA} USER: <image>\n{PAPER_PROMPT} ASSISTANT:"
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    hf = env.from_string(BUNNY_CHAT_TEMPLATE).render(
        messages=build_report_messages(), add_generation_prompt=True, eos_token="</s>"
    )
    assert hf == expected
    # llama.cpp: the handler adds its default system message, then swaps the URL for a marker.
    messages = [{"role": "system", "content": BunnyChatHandler.DEFAULT_SYSTEM_MESSAGE}]
    messages += _llama_messages(build_report_messages(), ["data:image/png;base64,AAAA"])
    gguf = env.from_string(BunnyChatHandler.CHAT_FORMAT).render(
        messages=messages, add_generation_prompt=True, eos_token="</s>"
    )
    assert gguf.replace("data:image/png;base64,AAAA", "<image>") == expected


@pytest.mark.parametrize(
    ("text", "findings", "impression"),
    [
        ("所見：両肺野に浸潤影なし。\n印象：異常なし。", "両肺野に浸潤影なし。", "異常なし。"),
        ("所見: 心拡大あり。 印象: 心不全疑い", "心拡大あり。", "心不全疑い"),
        ("【所見】\n右下肺野に結節影。\n【印象】\n肺癌疑い。", "右下肺野に結節影。", "肺癌疑い。"),
        ("所見：胸水あり。\n診断：心不全", "胸水あり。", "心不全"),
        ("以下に記載します。\n所見：気胸なし。", "気胸なし。", ""),
        ("右肺尖部に気胸。\n印象：気胸", "右肺尖部に気胸。", "気胸"),
        ("印象：肺炎\n所見：右下葉に浸潤影。", "右下葉に浸潤影。", "肺炎"),
        ("  明らかな異常所見を認めません。  ", "明らかな異常所見を認めません。", ""),
        ("", "", ""),
    ],
)
def test_split_report(text, findings, impression):
    assert split_report(text) == ReportSections(findings, impression, text)


@pytest.mark.parametrize(
    ("response", "letters"),
    [
        ("a", ("a",)),
        ("a,c", ("a", "c")),
        ("c, a", ("a", "c")),
        ("ａ，ｃ", ("a", "c")),
        ("答え: b", ("b",)),
        ("答え：Ｂ。", ("b",)),
        ("正解は c です", ("c",)),
        ("正解はcです。", ("c",)),
        ("答えは a と e です。", ("a", "e")),
        ("C、A", ("a", "c")),
        ("b. 肥満", ("b",)),
        ("(d)", ("d",)),
        ("The answer is b.", ("b",)),
        ("", None),
        ("わかりません", None),
        ("a patient with fever", None),
    ],
)
def test_parse_answer_letters(response, letters):
    assert parse_answer_letters(response) == letters


def test_engine_keeps_the_stricter_igakuqa_parser():
    from engine.metrics import parse_answer_letters as igakuqa

    assert igakuqa("b. 肥満") is None and parse_answer_letters("b. 肥満") == ("b",)
    assert igakuqa("答え: b") == parse_answer_letters("答え: b") == ("b",)


def test_choice_messages_and_answers():
    messages = build_choice_messages("高血圧の第一選択薬はどれか。", ["A剤", "B剤", "C剤"])
    assert messages[0]["role"] == "system"
    text = messages[-1]["content"]
    assert "問題：高血圧の第一選択薬はどれか。" in text
    assert text.endswith("選択肢：\na. A剤\nb. B剤\nc. C剤")
    assert "答え：" in text and "理由：" in text
    reply = "答え：a,c\n理由：どちらも推奨されるため。"
    assert parse_choice_answer(reply, 3) == ChoiceAnswer(("a", "c"), "どちらも推奨されるため。")
    assert parse_choice_answer("考えます。\n正解は b です。\n根拠：…", 3).letters == ("b",)
    assert parse_choice_answer("答え：e", 3) == ChoiceAnswer((), "答え：e")  # no such choice
    with pytest.raises(ValueError, match="2 to 26 choices"):
        build_choice_messages("?", ["only one"])


def test_chat_messages_keep_history_in_order():
    history = [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]
    messages = build_chat_messages(history, "Q2")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "Q2"
    with pytest.raises(ValueError, match="'user' or 'assistant'"):
        build_chat_messages([{"role": "tool", "content": "x"}], "Q")


def test_params_registry_and_errors():
    assert GenerationParams().greedy and GenerationParams().max_new_tokens == 256
    with pytest.raises(ValueError, match="temperature"):
        GenerationParams(temperature=-1)
    with pytest.raises(UnknownBackendError, match="Valid names: gguf, hf") as info:
        get_backend("onnx")
    assert isinstance(info.value, KeyError) and "gguf, hf" in info.value.message("ja")
    crashed = WorkerCrashedError.from_exit(-signal.SIGKILL, loading=False, log_tail="boom")
    copy = pickle.loads(pickle.dumps(crashed))
    assert type(copy) is WorkerCrashedError and copy.exitcode == -9 and copy.log_tail == "boom"
    assert "SIGKILL" in copy.message("ja") and "SIGKILL" in copy.message("en")


def test_stop_filter_holds_back_a_possible_stop():
    from jradi_desktop.inference._backend import StopFilter

    stops = StopFilter(["印象："])
    assert [stops.push(p) for p in ["所見：", "異常", "なし。印", "象：肺炎"]] == [
        "所見：",
        "異常",
        "なし。",
        "",
    ]
    assert stops.stopped and stops.flush() == ""


# -- backends on the demo models ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gguf", "hf"])
def test_vlm_report_is_deterministic_and_streamed(backends, kind):
    backend = backends(f"{kind}-vlm")
    assert backend.has_vision
    pieces, text = _run(backend, build_report_messages(), [_image()])
    assert len(pieces) >= 3 and text.strip()
    assert backend.finish_reason in ("stop", "length") and 0 < backend.generated_tokens <= 24
    assert _run(backend, build_report_messages(), [_image()])[1] == text
    # Encoded PNG bytes are the same image.
    from jradi_desktop.inference._images import to_png_bytes

    assert _run(backend, build_report_messages(), [to_png_bytes(_image())])[1] == text


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gguf", "hf"])
def test_text_chat_with_base_model(backends, kind):
    backend = backends(f"{kind}-base")
    assert not backend.has_vision
    pieces, text = _run(backend, HELLO)
    assert len(pieces) >= 3 and text.strip() and backend.finish_reason == "length"
    assert _run(backend, HELLO)[1] == text
    assert _run(backend, build_chat_messages([], "胸水とは"))[1]  # system prompt + question
    with pytest.raises(VisionNotSupportedError, match="cannot read images"):
        _run(backend, build_report_messages(), [_image()])
    with pytest.raises(InvalidRequestError, match="1 image part"):
        _run(backend, build_report_messages(), [])


LLAMA3_HELLO = (
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nこんにちは<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gguf", "hf"])
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("auto", LLAMA3_HELLO),  # the base's own template is Llama-3's
        ("llama3", LLAMA3_HELLO),
        ("bunny", f"<|begin_of_text|>{VICUNA} USER: こんにちは ASSISTANT:"),
    ],
)
def test_templates_give_one_prompt_in_both_backends(specs, kind, template, expected):
    from dataclasses import replace

    with create_backend(replace(specs[f"{kind}-base"], template=template)) as backend:
        if kind == "gguf":
            from jradi_desktop.inference._gguf import _llama_messages

            ids = backend._eval_prompt(_llama_messages(HELLO, []))
            text = backend._llm.detokenize(ids, special=True).decode()
        else:
            ids = backend._inputs(HELLO, [])["input_ids"][0].tolist()
            text = backend._tokenizer.decode(ids, skip_special_tokens=False)
    assert text == expected


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gguf", "hf"])
def test_stop_string_cuts_the_reply(backends, kind):
    backend = backends(f"{kind}-base")
    text = _run(backend, HELLO, params=GenerationParams(max_new_tokens=40))[1]
    stop = text.strip("\ufffd")[8:10]
    assert len(stop) == 2
    cut = _run(backend, HELLO, params=GenerationParams(max_new_tokens=40, stop=(stop,)))[1]
    assert cut == text[: text.index(stop)] and backend.finish_reason == "stop"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gguf", "hf"])
def test_cancel_from_another_thread_stops_within_one_token(backends, kind):
    backend = backends(f"{kind}-base")
    params = LONG if kind == "gguf" else GenerationParams(max_new_tokens=400)
    stream = backend.generate(HELLO, (), params)
    for _ in range(3):
        next(stream)
    at_cancel = backend.generated_tokens
    canceller = threading.Thread(target=backend.cancel)
    started = time.perf_counter()
    canceller.start()
    canceller.join()
    assert list(stream) == []  # nothing after the cancel
    assert time.perf_counter() - started < 2.0
    assert backend.finish_reason == "cancelled"
    if kind == "gguf":  # tokens are counted as they are made
        assert backend.generated_tokens - at_cancel <= 1
    assert _run(backend, HELLO)[1]  # and the backend is ready again


@pytest.mark.slow
def test_prompt_longer_than_context_is_a_clear_error(demo_gguf):
    spec = ModelSpec("small-ctx", "gguf", demo_gguf["base"], threads=1, context=256)
    with (
        create_backend(spec) as backend,
        pytest.raises(PromptTooLongError, match="context of 256 tokens"),
    ):
        _run(backend, [{"role": "user", "content": "所見 " * 300}])


@pytest.mark.parametrize("kind", ["gguf", "hf"])
def test_missing_model_file_names_the_file(tmp_path, kind):
    missing = tmp_path / ("モデル.gguf" if kind == "gguf" else "モデル")
    with pytest.raises(ModelFileNotFoundError, match="not found") as info:
        create_backend(ModelSpec("missing", kind, missing))
    assert str(missing) in info.value.message("ja") and info.value.path == str(missing)


def test_bad_files_are_refused_with_the_reason(tmp_path, demo_gguf):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelLoadError, match="is not a GGUF file"):
        create_backend(ModelSpec("fake", "gguf", fake))
    with pytest.raises(ModelFileNotFoundError, match=r"mmproj\) file not found"):
        create_backend(ModelSpec("v", "gguf", demo_gguf["vlm"], mmproj=tmp_path / "mmproj.gguf"))
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelLoadError, match=r"no safetensors weights \(found pytorch_model.bin\)"):
        create_backend(ModelSpec("p", "hf", folder))
