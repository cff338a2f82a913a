"""LoRA instruction tuning (JMedLoRA): instruction data, prompt formats, response-only labels
and configs."""

import json
import re

import pytest
import torch
import yaml
from lora_helpers import run_config, sample, write_config

from engine.data import DataError, InstructionExample, load_instructions
from engine.lora import LoraError, load_lora_config, parse_lora_config, train
from engine.lora._checkpoint import latest_checkpoint
from engine.lora._dataset import IGNORE_INDEX, BatchPlan, collate, encode
from engine.lora._model import qlora_unavailable_reason
from engine.lora._prompts import instruction_prompt

# peft 0.21 reads transformers 5's deprecated ``is_gradient_checkpointing`` when it loads an
# adapter; not ours to fix (the engine silences it around its own calls).
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")


# --- data -----------------------------------------------------------------------------------


def test_instruction_lines_that_do_not_load_are_reported_by_file_and_line(tmp_path):
    good = {
        "instruction": "次の質問に答えてください。",
        "input": "頻脈とは？",
        "output": "100回/分以上。",
    }
    lines = [
        json.dumps(good, ensure_ascii=False).encode(),
        b"{not json",
        b"[1, 2]",
        json.dumps({"instruction": "説明せよ", "input": ""}, ensure_ascii=False).encode(),
        b"",
        json.dumps({"instruction": "説明せよ", "input": 3, "output": "x"}).encode(),
        b'{"instruction": "\xff", "output": "x"}',
        json.dumps(
            {"instruction": "心電図とは", "input": None, "output": "心臓の電気活動の記録"},
            ensure_ascii=False,
        ).encode(),
        json.dumps({"instruction": " ", "output": "x"}).encode(),
    ]
    folder = tmp_path / "データ"
    folder.mkdir()
    path = folder / "b.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    (folder / "a.jsonl").write_text(json.dumps(good, ensure_ascii=False) + "\n", encoding="utf-8")

    data = load_instructions(folder)
    assert [e.source for e in data.examples] == [
        f"{folder / 'a.jsonl'}:1",
        f"{path}:1",
        f"{path}:8",
    ]
    assert data.examples[2] == InstructionExample(
        "心電図とは", "", "心臓の電気活動の記録", f"{path}:8"
    )
    reported = [(p.path, p.line) for p in data.problems]
    assert reported == [(path, 2), (path, 3), (path, 4), (path, 6), (path, 7), (path, 9)]
    messages = [str(p) for p in data.problems]
    assert messages[0].startswith(f"{path}:2: not valid JSON")
    assert "must be a JSON object, got list" in messages[1]
    assert "has no field 'output'" in messages[2]
    assert "field 'input' must be a string, got int" in messages[3]
    assert "not UTF-8" in messages[4]
    assert "field 'instruction' is empty" in messages[5]

    with pytest.raises(DataError, match="no usable instruction examples"):
        load_instructions(_only_bad(tmp_path))
    with pytest.raises(DataError, match="no such file"):
        load_instructions(tmp_path / "missing.jsonl")


def _only_bad(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "x"}\n', encoding="utf-8")
    return path


def test_the_sample_instructions_load_cleanly():
    data = load_instructions(sample("instructions_ja.jsonl"))
    assert len(data) == 30 and not data.problems
    assert any(not e.input for e in data.examples)


def _with_bad_lines(tmp_path):
    """The sample instructions with a broken line 3 and an incomplete line 5."""
    lines = sample("instructions_ja.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = '{"instruction": "途中で切れた行'
    lines[4] = json.dumps({"instruction": "出力がない"}, ensure_ascii=False)
    path = tmp_path / "訓練.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_strict_reading_stops_at_the_first_bad_line_with_file_and_line(tmp_path):
    path = _with_bad_lines(tmp_path)
    assert [(p.path, p.line) for p in load_instructions(path).problems] == [(path, 3), (path, 5)]
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:3: not valid JSON.*strict"):
        load_instructions(path, strict=True)


def test_lora_cli_strict_stops_at_the_first_bad_line(demo_dir, tmp_path, capsys):
    from engine.cli import main as engine

    data = _with_bad_lines(tmp_path)
    config = write_config(tmp_path / "run.yaml", run_config(demo_dir, data=[str(data)]))
    assert engine(["lora", str(config), "--workspace", str(tmp_path / "ws"), "--strict"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"jradi-engine lora: {data}:3: not valid JSON")
    assert not latest_checkpoint(tmp_path / "ws")
    strict = write_config(tmp_path / "strict.yaml", {**yaml.safe_load(config.read_text()),
                                                      "strict_data": True})  # fmt: skip
    assert engine(["lora", str(strict), "--workspace", str(tmp_path / "ws2")]) == 1
    assert f"{data}:3: not valid JSON" in capsys.readouterr().err


@pytest.mark.slow
def test_lora_cli_names_the_skipped_lines_on_the_terminal(demo_dir, tmp_path, capsys):
    from engine.cli import main as engine

    data = _with_bad_lines(tmp_path)
    config = write_config(tmp_path / "run.yaml", run_config(demo_dir, data=[str(data)],
                                                             max_steps=1))  # fmt: skip
    assert engine(["lora", str(config), "--workspace", str(tmp_path / "ws")]) == 0
    err = capsys.readouterr().err
    assert "lora: warning: 2 training data line(s) skipped" in err
    assert f"- {data}:3: not valid JSON" in err
    assert f"- {data}:5: has no field 'output'" in err


# --- prompts and labels ---------------------------------------------------------------------

ALPACA_PREAMBLE = (
    "以下は，タスクを説明する指示と，文脈のある入力の組み合わせです。"
    "要求を適切に満たす応答を書きなさい。"
)


def test_instruction_prompt_formats_are_exact():
    example = InstructionExample("次の質問に答えてください。", "COPD の危険因子は？", "喫煙です。")
    assert instruction_prompt(example, "alpaca") == (
        f"{ALPACA_PREAMBLE}\n### 指示：\n次の質問に答えてください。\n"
        "### 入力：\nCOPD の危険因子は？\n### 応答：\n"
    )
    assert instruction_prompt(example, "medpalm") == (
        f"### 指示：\n{ALPACA_PREAMBLE}\n### 入力：\n次の質問に答えてください。\n"
        "COPD の危険因子は？\n### 応答：\n"
    )
    bare = InstructionExample("禁忌肢とは何か説明してください。", "", "…")
    assert instruction_prompt(bare, "alpaca") == (
        "以下は，タスクを説明する指示です。要求を適切に満たす応答を書きなさい。\n"
        "### 指示：\n禁忌肢とは何か説明してください。\n### 応答：\n"
    )
    with pytest.raises(ValueError, match=r"choose one of \['alpaca', 'medpalm'\]"):
        instruction_prompt(example, "vicuna")


def test_labels_cover_the_response_only(demo_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo_dir / "base")
    prompt = instruction_prompt(InstructionExample("質問", "頻脈の定義は？", "100回/分以上"))
    chat = encode(tokenizer, prompt, "100回/分以上", "chat", 512, 64)
    n_prompt = chat.labels.index(next(x for x in chat.labels if x != IGNORE_INDEX))
    assert set(chat.labels[:n_prompt]) == {IGNORE_INDEX}
    assert list(chat.labels[n_prompt:]) == list(chat.input_ids[n_prompt:])
    assert tokenizer.decode(chat.input_ids[:n_prompt]).endswith(
        "### 応答：<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert tokenizer.decode(chat.input_ids[n_prompt:]) == "100回/分以上<|eot_id|>"

    raw = encode(tokenizer, prompt, "100回/分以上", "raw", 512, 64)
    assert raw.input_ids[0] == tokenizer.bos_token_id
    assert raw.labels[-1] == raw.input_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(raw.input_ids[: raw.labels.count(IGNORE_INDEX)]).endswith(
        "### 応答：\n"
    )

    cut = encode(tokenizer, prompt, "100回/分以上", "chat", 16, 3)
    assert cut.prompt_truncated and cut.response_truncated
    assert len(cut.input_ids) == 16 + 3 and cut.n_response == 3
    assert cut.input_ids[0] == tokenizer.bos_token_id  # the start survives truncation

    batch = collate([chat, cut], tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (2, len(chat.input_ids))
    assert batch["attention_mask"][1].sum() == len(cut.input_ids)
    assert (batch["labels"][1, len(cut.input_ids) :] == IGNORE_INDEX).all()


def test_batch_plan_shards_each_step_across_processes():
    plan = BatchPlan(10, batch_size=2, world_size=2, accumulation=1, seed=3)
    assert plan.per_epoch == 2  # 10 // (2 x 2); the last 2 examples of a permutation wait
    step0 = plan.indices(0, 0) + plan.indices(0, 1)
    assert len(set(step0)) == 4 and plan.indices(0, 0) == plan.indices(0, 0)
    epoch0 = set(step0 + plan.indices(1, 0) + plan.indices(1, 1))
    assert len(epoch0) == 8
    assert plan.steps_for_epochs(3) == 6
    with pytest.raises(LoraError, match="batch_size x processes = 4 x 2 = 8"):
        BatchPlan(5, batch_size=4, world_size=2, accumulation=1, seed=0)


# --- config ---------------------------------------------------------------------------------


def test_config_defaults_are_jmedloras_and_problems_come_together(tmp_path):
    config = parse_lora_config({"base_model": "m", "data": "d.jsonl", "max_steps": 1000})
    assert (config.learning_rate, config.max_input_length, config.max_target_length) == (
        5e-5,
        512,
        512,
    )
    assert (config.batch_size, config.lora.r, config.lora.alpha, config.lora.dropout) == (
        8,
        8,
        32,
        0.05,
    )
    assert config.lora.peft_targets() == ["q_proj", "k_proj", "v_proj"]

    bad = {
        "base_model": "m",
        "data": ["d"],
        "max_steps": 5,
        "epochs": 1,
        "device": "cpu",
        "quantization": "4bit",
        "gguf": {"outtype": "f16"},
    }
    with pytest.raises(LoraError) as info:
        parse_lora_config(bad)
    message = str(info.value)
    assert "the LoRA config has 3 problem(s)" in message
    for expected in (
        "exactly one of max_steps",
        "set merge: true",
        "runs on a CUDA GPU through bitsandbytes",
    ):
        assert expected in message

    with pytest.raises(LoraError, match=r"lora\.r: Input should be greater than or equal to 1"):
        parse_lora_config({**bad, "lora": {"r": 0}})

    path = write_config(
        tmp_path / "run.yaml",
        {"base_model": "models/base", "data": "ja.jsonl", "epochs": 2, "colour": "red"},
    )
    with pytest.raises(LoraError, match="colour: Extra inputs are not permitted"):
        load_lora_config(path)
    path = write_config(
        tmp_path / "run.yaml", {"base_model": "models/base", "data": "ja.jsonl", "epochs": 2}
    )
    config = load_lora_config(path)
    assert config.base_model == (tmp_path / "models" / "base").resolve()
    assert config.data == [(tmp_path / "ja.jsonl").resolve()]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
def test_qlora_says_what_it_needs_on_a_machine_without_cuda(demo_dir, tmp_path):
    assert "needs a CUDA GPU" in qlora_unavailable_reason()
    config = parse_lora_config(run_config(demo_dir, quantization="4bit"))
    with pytest.raises(LoraError, match="needs a CUDA GPU and none is visible"):
        train(config, tmp_path / "ws")
