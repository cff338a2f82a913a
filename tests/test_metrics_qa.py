"""engine.metrics QA scoring: gestalt similarity, answer letters, points per question and
in aggregate (IgakuQA's official metric)."""

from __future__ import annotations

from difflib import SequenceMatcher

import pytest

from engine.metrics import (
    aggregate,
    gestalt,
    normalize_response,
    parse_answer_letters,
    parse_problem_id,
    score_question,
)

SINGLE = [
    "夜間高血圧となることが多い。",
    "肥満患者では減量を推奨する。",
    "α遮断薬が第一選択薬である。",
]
MULTI = [
    "50歳台では発症しない。",
    "運動障害を伴うことが多い。",
    "脳梗塞の初回発作では生じない。",
    "頭部MRI・MRA画像では異常を認めない。",
    "脳血流SPECTにおける血流分布異常は特定のパターンを示さない。",
]


def test_gestalt_hand_computed_and_symmetric():
    # "abcd"/"abce": matched block "abc", 2*3/8.
    assert gestalt("abcd", "abce") == 0.75
    # "tide"->"diet" matches only "t" (2*1/8); "diet"->"tide" matches "d" and "e" (2*2/8).
    assert gestalt("tide", "diet", symmetric=False) == 0.25
    assert gestalt("diet", "tide", symmetric=False) == 0.5
    assert gestalt("tide", "diet") == gestalt("diet", "tide") == 0.375
    assert gestalt("tide", "diet", symmetric=False) == SequenceMatcher(None, "tide", "diet").ratio()


def test_normalize_and_parse_letters():
    assert normalize_response("  ａ，ｃ。 ") == "a,c"
    assert normalize_response("ＣＴ検査、ＭＲＩ．") == "CT検査,MRI"
    assert parse_answer_letters("a") == ("a",)
    assert parse_answer_letters("c,a") == ("a", "c")
    assert parse_answer_letters("ａ，ｃ") == ("a", "c")
    assert parse_answer_letters("答え: b") == ("b",)
    assert parse_answer_letters("答え：Ｂ。") == ("b",)
    assert parse_answer_letters("C、 A") == ("a", "c")
    assert parse_answer_letters("b. 肥満") is None
    assert parse_answer_letters("") is None


def test_single_answer_question():
    score = score_question("α遮断薬が第一選択薬である。", SINGLE, ["c"], "1")
    assert (score.correct, score.exact_match, score.gestalt) == (True, True, 1.0)
    assert score.predicted == ("c",)
    assert not score.igakuqa_correct  # not a letter answer
    # Whitespace, full-width '．' and a missing '。' do not matter.
    spaced = score_question(" 　α遮断薬が 第一選択薬である． ", SINGLE, "c")
    assert spaced.exact_match and spaced.correct
    near = score_question("α遮断薬が第一選択", SINGLE, ["c"])
    assert near.correct and not near.exact_match and 0 < near.gestalt < 1
    wrong = score_question("夜間の高血圧", SINGLE, ["c"])
    assert not wrong.correct and wrong.predicted == ("a",)


def test_letter_answers_official_metric():
    score = score_question("ｃ", SINGLE, ["c"], "3")
    assert score.igakuqa_correct and score.parsed == ("c",) and score.earned == 3
    assert score_question("答え：Ｃ", SINGLE, ["c"]).igakuqa_correct
    assert not score_question("a", SINGLE, ["c"]).igakuqa_correct
    # The official scorer's special cases.
    assert score_question("a", SINGLE, ["c"], problem_id="116A71").igakuqa_correct
    assert score_question("a", SINGLE, ["c"], problem_id="112B30").igakuqa_correct
    assert not score_question("c", SINGLE, ["c"], problem_id="112B30").igakuqa_correct


def test_multi_answer_question():
    response = "運動障害を伴うことが多い、脳血流SPECTにおける血流分布異常は特定のパターンを示さない"
    score = score_question(response, MULTI, ["e", "b"])
    assert score.correct and score.exact_match and score.gestalt == 1.0
    assert score.predicted == ("b", "e")
    one = score_question("運動障害を伴うことが多い。", MULTI, ["b", "e"])
    assert not one.correct and not one.exact_match and "b" in one.predicted
    assert score_question("ｂ，ｅ", MULTI, ["b", "e"]).igakuqa_correct
    assert score_question("e, b", MULTI, ["b", "e"]).igakuqa_correct
    assert not score_question("b", MULTI, ["b", "e"]).igakuqa_correct


def test_empty_and_unrelated_responses():
    for response in ("", "  \n", "。"):
        score = score_question(response, SINGLE, ["a"], "1")
        assert score == score_question("", SINGLE, ["a"], 1)
        assert (score.correct, score.exact_match, score.gestalt) == (False, False, 0.0)
        assert not score.igakuqa_correct and score.earned == 0 and score.predicted == ()
    # No character in common with any choice: no prediction, even though 'a' is first.
    assert score_question("xyz", SINGLE, ["a"]).predicted == ()


def test_numeric_answer_question():
    score = score_question("２．５", [], ["2.5"], "1")
    assert score.correct and score.exact_match and score.igakuqa_correct and score.gestalt == 1
    labelled = score_question("答え: 2.5", [], ["2.5"])
    assert labelled.correct and labelled.igakuqa_correct and not labelled.exact_match
    assert not score_question("3", [], ["2.5"]).correct
    empty = score_question("", [], ["2.5"])
    assert not (empty.correct or empty.exact_match or empty.igakuqa_correct)
    assert empty.gestalt == 0.0


def test_bad_gold_answers():
    with pytest.raises(ValueError, match=r"answer letter\(s\) \['f'\] not among the 3 choices"):
        score_question("a", SINGLE, ["f"])
    with pytest.raises(ValueError, match="must name at least one answer"):
        score_question("a", SINGLE, [])


def test_aggregate_points_and_breakdown():
    ids = ["112A1", "112B2", "116A12", "116A13"]
    scores = [
        score_question("c", SINGLE, ["c"], "3"),  # letter right: 3 points
        score_question("a", SINGLE, ["c"], "1"),  # wrong
        score_question("α遮断薬が第一選択薬である。", SINGLE, ["c"], "1"),  # text right
        score_question("b,e", MULTI, ["b", "e"], "1"),  # letters right: 1 point
    ]
    result = aggregate(scores, ids)
    assert result["n"] == 4
    assert result["igakuqa_points"] == 4 and result["igakuqa_points_total"] == 6
    assert result["igakuqa_accuracy"] == 0.5
    assert result["exact_match"] == 0.25
    assert result["accuracy"] == 0.25  # letters are not choice texts
    assert list(result["by_year"]) == ["2018", "2022"]
    assert result["by_year"]["2018"]["n"] == 2
    assert result["by_year"]["2018"]["igakuqa_points"] == 3
    assert result["by_year"]["2022"]["igakuqa_points"] == 1
    assert list(result["by_block"]) == ["112-A", "112-B", "116-A"]
    assert result["by_block"]["116-A"]["accuracy"] == 0.5
    assert "by_year" not in aggregate(scores)
    odd = aggregate(scores[:1], ["JJSIMQA-7"])
    assert list(odd["by_year"]) == ["unknown"]
    assert parse_problem_id("116A12") == (116, "A", 12)
    with pytest.raises(ValueError, match="no question scores"):
        aggregate([])
    with pytest.raises(ValueError, match="4 scores but 1 problem ids"):
        aggregate(scores, ids[:1])
