"""Japanese medical QA evaluation: IgakuQA-format folders, the two prompt formats 0-shot and
1-shot, reading the answer, ``score-qa`` against hand-computed values, and ``eval-qa`` end to
end with the demo base (transformers) and its GGUF (llama.cpp)."""

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main as engine
from engine.data import DataError, QAQuestion, load_igakuqa
from engine.lora import LoraError, score_predictions
from engine.lora._prompts import pick_shots, question_prompt, read_answer

ROOT = Path(__file__).resolve().parents[1]
DEMO_QA = ROOT / "resources" / "samples" / "igakuqa_demo"
TASK_5_1 = (
    "以下は医学知識に関する多肢選択問題です。利用可能な情報を要約してから、段階的に解決して"
    "ください。最終的な答えとして5つの選択肢のうちの1つを出力してください。"
)


def write_jsonl(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- IgakuQA-format data --------------------------------------------------------------------


def test_the_demo_folder_loads_with_metadata_and_the_harness_selection():
    data = load_igakuqa(DEMO_QA)
    assert len(data) == 10 and not data.problems
    assert [f.name for f in data.files] == ["116-A.jsonl"]  # the metadata file is a side file
    by_id = data.by_id()
    assert by_id["116A1"].metadata["kinki"] == ["e"] and by_id["116A1"].points == 1
    assert by_id["116A5"].answer == ("a", "b")
    assert by_id["116A5"].answer_text == "心筋トロポニン,CK-MB"
    assert by_id["116A8"].choices == () and by_id["116A8"].answer_text == "30"
    assert not by_id["116A6"].text_only
    default = [q.problem_id for q in data.select()]  # text only, five choices
    assert "116A6" not in default and "116A8" not in default and len(default) == 8
    assert [q.problem_id for q in data.select(None, [0])] == ["116A8"]
    assert len(data.select(None, None)) == 10


def test_question_lines_that_do_not_load_are_reported_by_file_and_line(tmp_path):
    folder = tmp_path / "IgakuQA" / "2022"
    shutil.copytree(DEMO_QA / "2022", folder)
    good = {
        "problem_id": "117B1",
        "problem_text": "正しいのはどれか。",
        "choices": list("abcde"),
        "text_only": True,
        "answer": ["E"],
        "points": "1",
    }
    bad_file = write_jsonl(
        folder / "117-B.jsonl",
        [
            good,
            "{broken",
            {**good, "problem_id": "117B2", "answer": ["f"]},
            {**good, "problem_id": "117B3", "points": "many"},
            {**good, "problem_id": "117B4", "text_only": "yes"},
            {**good, "problem_text": "重複"},
            {"problem_text": "番号なし", "choices": [], "answer": ["1"]},
        ],
    )
    write_jsonl(folder / "117-B_metadata.jsonl", [{"problem_id": "117B1", "kinki": []}, "[]"])
    write_jsonl(folder / "117-B_translate.jsonl", [{"problem_id": "117B1", "problem_text": "x"}])

    data = load_igakuqa(tmp_path / "IgakuQA")
    assert len(data) == 11 and data.by_id()["117B1"].answer == ("e",)
    meta = folder / "117-B_metadata.jsonl"
    reported = [(p.path, p.line) for p in data.problems]
    assert reported == [(meta, 2), *((bad_file, n) for n in (2, 3, 4, 5, 6, 7))]
    text = [str(p) for p in data.problems]
    assert "must be a JSON object" in text[0]
    assert "not valid JSON" in text[1]
    assert "117B2: answer ['f'] not among the 5 choices (a,b,c,d,e)" in text[2]
    assert "117B3: 'points' must be a whole number" in text[3]
    assert "117B4: 'text_only' must be true or false" in text[4]
    assert f"117B1: already read at {bad_file}:1" in text[5]
    assert "has no 'problem_id'" in text[6]

    with pytest.raises(DataError, match="no such file or folder"):
        load_igakuqa(tmp_path / "missing")


# --- prompts --------------------------------------------------------------------------------

Q1 = QAQuestion(
    "116A1",
    "最初に投与すべき薬剤はどれか。",
    ("アドレナリン", "ドパミン", "ヒドロコルチゾン", "ジフェンヒドラミン", "フロセミド"),
    ("a",),
)
Q2 = QAQuestion(
    "116A3",
    "高カリウム血症の心電図所見はどれか。",
    ("U 波", "デルタ波", "テント状 T 波", "QT 延長", "ST 低下"),
    ("c",),
)
CHOICES_1 = "アドレナリン,ドパミン,ヒドロコルチゾン,ジフェンヒドラミン,フロセミド"
CHOICES_2 = "U 波,デルタ波,テント状 T 波,QT 延長,ST 低下"


def test_alpaca_and_medpalm_prompts_zero_shot_are_exact():
    assert question_prompt(Q2, "alpaca") == (
        f"{TASK_5_1}\n### 指示：\n高カリウム血症の心電図所見はどれか。\n"
        f"### 入力：\n{CHOICES_2}\n### 応答：\n"
    )
    assert question_prompt(Q2, "medpalm") == (
        f"### 指示：\n{TASK_5_1}\n### 入力：\n高カリウム血症の心電図所見はどれか。\n"
        f"{CHOICES_2}\n### 応答：\n"
    )


def test_one_shot_prompts_put_a_solved_example_first():
    assert question_prompt(Q2, "alpaca", [Q1]) == (
        f"{TASK_5_1}\n### 指示：\n最初に投与すべき薬剤はどれか。\n### 入力：\n{CHOICES_1}\n"
        "### 応答：\nアドレナリン\n\n"
        f"{TASK_5_1}\n### 指示：\n高カリウム血症の心電図所見はどれか。\n"
        f"### 入力：\n{CHOICES_2}\n### 応答：\n"
    )
    assert question_prompt(Q2, "medpalm", [Q1]) == (
        f"### 指示：\n{TASK_5_1}\n### 入力：\n最初に投与すべき薬剤はどれか。\n{CHOICES_1}\n"
        "### 応答：\nアドレナリン\n\n"
        f"### 指示：\n{TASK_5_1}\n### 入力：\n高カリウム血症の心電図所見はどれか。\n"
        f"{CHOICES_2}\n### 応答：\n"
    )
    assert pick_shots([Q1, Q2], 0, 1) == (Q2,) and pick_shots([Q1, Q2], 1, 1) == (Q1,)
    with pytest.raises(ValueError, match="1-shot prompts need more than 1 questions"):
        pick_shots([Q1], 0, 1)


def test_two_answer_and_numeric_questions_say_so_in_the_task():
    data = load_igakuqa(DEMO_QA).by_id()
    assert "5つの選択肢のうちの2つを出力" in question_prompt(data["116A5"])
    numeric = question_prompt(data["116A8"], "alpaca")
    assert "数値を出力してください。" in numeric and "### 入力：" not in numeric


def test_the_answer_is_read_after_the_response_marker():
    assert read_answer("テント状 T 波\n理由：…") == "テント状 T 波"
    assert read_answer("\n\n  テント状 T 波  \n") == "テント状 T 波"
    assert read_answer("### 応答：\nテント状 T 波\n### 指示：…") == "テント状 T 波"
    prompt = question_prompt(Q2)
    assert read_answer(prompt + "ST 低下\n", prompt) == "ST 低下"
    assert read_answer("") == "" and read_answer("   \n") == ""


# --- scoring --------------------------------------------------------------------------------


def test_score_qa_gives_the_hand_computed_values(tmp_path, capsys):
    fmt = {"prompt_format": "alpaca"}
    predictions = write_jsonl(
        tmp_path / "preds.jsonl",
        [
            {"problem_id": "116A1", "response": "アドレナリン", **fmt},  # right, exact
            {"problem_id": "116A5", "response": "心筋トロポニン,CK-MB", **fmt},  # both answers
            {"problem_id": "116A8", "response": "30", **fmt},  # numeric, 3 points
            {"problem_id": "116A3", "response": "", **fmt},  # empty
            {"problem_id": "116A10", "response": "c,e", **fmt},  # letters, 3 points
            {"problem_id": "116A2", "response": "MCV 上昇", **fmt},  # wrong choice
            {"problem_id": "999Z1", "response": "x", **fmt},  # not in the data
            "{oops",
            {"problem_id": "116A1", "response": "ドパミン", **fmt},  # a repeat
        ],
    )
    assert engine(["score-qa", "--dataset", str(DEMO_QA), "--predictions", str(predictions)]) == 0
    result = json.loads(capsys.readouterr().out)
    # Gestalt: 1, 1, 1, 0, 2|","| / (3 + 14) for "c,e" against the two gold texts, 0.
    expected = {
        "n": 6,
        "accuracy": 3 / 6,  # 116A1, 116A5 (top-2 = a,b), 116A8
        "exact_match": 3 / 6,
        "gestalt": pytest.approx((3 + 2 / 17) / 6),
        "igakuqa_accuracy": 2 / 6,  # 116A8 ("30"), 116A10 ("c,e")
        "igakuqa_points": 6,
        "igakuqa_points_total": 1 + 1 + 3 + 1 + 3 + 1,
    }
    assert {k: result[k] for k in expected} == expected
    assert (
        result["by_year"]["2022"]["n"] == 6 and result["by_block"]["116-A"]["igakuqa_points"] == 6
    )
    assert result["unanswered"] == 4 and result["prompt_format"] == "alpaca"
    problems = result["problems"]
    assert len(problems) == 3
    assert f"{predictions}:8: not valid JSON" in problems[0]
    assert "999Z1: not a question" in problems[1]
    assert "116A1: predicted more than once" in problems[2]


def test_score_qa_explains_unusable_input(tmp_path, capsys):
    nothing = write_jsonl(tmp_path / "none.jsonl", [{"problem_id": "999Z1", "response": "x"}])
    with pytest.raises(LoraError, match="no prediction matches a question"):
        score_predictions(DEMO_QA, nothing)
    assert engine(["score-qa", "--dataset", str(DEMO_QA), "--predictions", "missing.jsonl"]) == 1
    assert "missing.jsonl: predictions file not found" in capsys.readouterr().err


# --- eval-qa end to end ---------------------------------------------------------------------


def eval_qa(model: Path, out: Path, *options: str) -> int:
    """``eval-qa`` over the demo questions with ``model``, its predictions written to ``out``."""
    return engine(["eval-qa", "--dataset", str(DEMO_QA), "--model", str(model), "--out", str(out),
                   *options])  # fmt: skip


@pytest.mark.slow
def test_eval_qa_with_the_demo_base_writes_predictions_and_metrics(demo_dir, tmp_path, capsys):
    out = tmp_path / "予測.jsonl"
    assert eval_qa(demo_dir / "base", out, "--max-new-tokens", "24") == 0
    metrics = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "exact_match", "gestalt", "igakuqa_accuracy", "igakuqa_points"):
        assert key in metrics
    assert metrics["n"] == 8 and metrics["unanswered"] == 2  # the image and numeric questions
    assert metrics["prompt_format"] == "alpaca" and metrics["shots"] == 0
    assert metrics["backend"] == "hf" and metrics["by_block"]["116-A"]["n"] == 8
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["problem_id"] for r in records] == [
        "116A1",
        "116A2",
        "116A3",
        "116A4",
        "116A5",
        "116A7",
        "116A9",
        "116A10",
    ]
    for record in records:
        assert record["prompt_format"] == "alpaca" and record["shots"] == 0
        assert record["response"] == read_answer(record["full_response"])
    rescored = score_predictions(DEMO_QA, out).to_data()
    assert {k: rescored[k] for k in ("accuracy", "gestalt", "n")} == {
        k: metrics[k] for k in ("accuracy", "gestalt", "n")
    }


@pytest.mark.slow
def test_eval_qa_with_a_gguf_medpalm_one_shot_over_every_question(demo_gguf, tmp_path, capsys):
    out = tmp_path / "preds.jsonl"
    options = ["--prompt-format", "medpalm", "--shots", "1", "--choices", "all", "--with-images",
               "--events", "jsonl"]  # fmt: skip
    assert eval_qa(demo_gguf["base"], out, *options) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["step"] for e in events if e["kind"] == "progress"] == list(range(1, 11))
    metrics = events[-1]["data"]
    assert events[-1]["kind"] == "result" and metrics["n"] == 10 and metrics["unanswered"] == 0
    assert (metrics["backend"], metrics["prompt_format"], metrics["shots"]) == (
        "gguf",
        "medpalm",
        1,
    )
    assert all(json.loads(line)["prompt_format"] == "medpalm" for line in out.open())


def test_eval_qa_refuses_what_it_cannot_run(tmp_path, capsys):
    base = ["eval-qa", "--dataset", str(DEMO_QA)]
    assert engine([*base, "--model", str(tmp_path / "none.gguf")]) == 1
    assert "not a GGUF file or a model folder" in capsys.readouterr().err
    assert engine([*base, "--model", str(tmp_path), "--choices", "8"]) == 1
    assert "no question matches the selection" in capsys.readouterr().err
    assert engine([*base, "--model", str(tmp_path), "--shots", "8"]) == 1
    assert "8-shot prompts need more than 8 questions" in capsys.readouterr().err
