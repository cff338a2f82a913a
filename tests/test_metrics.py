"""engine.metrics: hand-computed ROUGE-L / BLEU / METEOR, bootstrap CI, files, QA scoring."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from engine.metrics import (
    MetricsInputError,
    bleu,
    bootstrap_ci,
    char_bleu,
    evaluate_predictions_file,
    evaluate_reports,
    extract_findings,
    extract_impression,
    lcs_length,
    meteor,
    read_predictions_file,
    rouge_l,
    score_report,
    tokenize_ja,
    wakati,
)

# Pair A: ref 肺野 に 異常 陰影 を 認め ない 。 (8) / pred 肺野 に 陰影 を 認める 。 (6).
# LCS = 肺野 に 陰影 を 。 = 5; P = 5/6, R = 5/8, F = 2PR/(P+R) = (50/48)/(35/24) = 5/7.
REF_A, PRED_A = "肺野に異常陰影を認めない。", "肺野に陰影を認める。"
# Pair B: ref 心 拡大 を 認め ない 。 (6) / pred 心 拡大 なし 。 (4).
# LCS = 心 拡大 。 = 3; P = 3/4, R = 1/2, F = (3/4)/(5/4) = 3/5.
REF_B, PRED_B = "心拡大を認めない。", "心拡大なし。"
# Pair C: 右肺 に 結節 を 認める 。 / 右肺 に 腫瘤 を 認める 。 (6 tokens each, BP = 1).
REF_C, PRED_C = "右肺に結節を認める。", "右肺に腫瘤を認める。"


# --- tokenisation -------------------------------------------------------------------------


def test_tokenize_ja_words():
    assert tokenize_ja(REF_A) == ["肺野", "に", "異常", "陰影", "を", "認め", "ない", "。"]
    assert tokenize_ja(PRED_B) == ["心", "拡大", "なし", "。"]
    assert tokenize_ja("") == []
    assert tokenize_ja(" \n\u3000") == []


def test_tokenize_ja_matches_mecab_wakati():
    import fugashi
    import unidic_lite

    dicdir = unidic_lite.DICDIR
    mecab = fugashi.Tagger(f'-Owakati -d "{dicdir}" -r "{os.path.join(dicdir, "mecabrc")}"')
    text = "右下肺野に　浸潤影 あり。\n心胸郭比 55%。ＣＴで２cm大の結節 (+)"
    assert tokenize_ja(text) == mecab.parse(text).split()
    assert wakati(REF_C) == "右肺 に 結節 を 認める 。"


# --- ROUGE-L ------------------------------------------------------------------------------


def test_rouge_l_hand_computed():
    ref, pred = tokenize_ja(REF_A), tokenize_ja(PRED_A)
    assert lcs_length(ref, pred) == 5
    assert rouge_l(ref, pred) == pytest.approx(5 / 7)
    ref, pred = tokenize_ja(REF_B), tokenize_ja(PRED_B)
    assert lcs_length(ref, pred) == 3
    assert rouge_l(ref, pred) == pytest.approx(3 / 5)


def test_rouge_l_identical_and_empty():
    tokens = tokenize_ja(REF_A)
    assert rouge_l(tokens, tokens) == 1.0
    assert rouge_l(tokens, []) == 0.0
    assert rouge_l([], tokens) == 0.0
    assert rouge_l(["a"], ["b"]) == 0.0


def test_rouge_l_equals_rouge_score_on_random_sequences():
    import random

    from rouge_score.rouge_scorer import _score_lcs

    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abcdef") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 40))]
        assert rouge_l(a, b) == _score_lcs(a, b).fmeasure


# --- BLEU ---------------------------------------------------------------------------------


def test_bleu_hand_computed():
    ref, pred = tokenize_ja(REF_C), tokenize_ja(PRED_C)
    # unigrams 5/6; bigrams 右肺-に, を-認める, 認める-。 = 3/5; trigrams を-認める-。 = 1/4;
    # 4-grams 0/3 -> method1 gives 0.1/3.
    assert bleu(ref, pred, 1) == pytest.approx(5 / 6)
    assert bleu(ref, pred, 2) == pytest.approx((5 / 6 * 3 / 5) ** 0.5)
    assert bleu(ref, pred, 3) == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** 0.33)  # (1/8)^0.99
    assert bleu(ref, pred, 4) == pytest.approx((1 / 8 * 0.1 / 3) ** 0.25)  # 240^-1/4


def test_bleu_identical_and_empty():
    tokens = tokenize_ja(REF_A)
    for n in (1, 2, 3, 4):
        assert bleu(tokens, tokens, n) == pytest.approx(1.0)
        assert bleu(tokens, [], n) == 0.0
    with pytest.raises(ValueError, match="BLEU order n=5 is not supported"):
        bleu(tokens, tokens, 5)


def test_char_bleu_is_nltk_over_the_wakati_string():
    ref, pred = tokenize_ja(REF_C), tokenize_ja(PRED_C)
    # "右肺 に 結節 を 認める 。" vs "右肺 に 腫瘤 を 認める 。": 15 characters each (spaces
    # included), 13 shared -> char BLEU-1 = 13/15, not the token 5/6.
    assert char_bleu(ref, pred, 1) == pytest.approx(13 / 15)
    assert char_bleu(ref, pred, 1) != pytest.approx(bleu(ref, pred, 1))
    weights = {1: (1, 0, 0, 0), 2: (0.5, 0.5), 3: (0.33, 0.33, 0.33), 4: (0.25,) * 4}
    smoothing = SmoothingFunction().method1
    for n, w in weights.items():
        expected = sentence_bleu(
            ["右肺 に 結節 を 認める 。"], "右肺 に 腫瘤 を 認める 。", w, smoothing
        )
        assert char_bleu(ref, pred, n) == expected


# --- METEOR -------------------------------------------------------------------------------


def test_meteor_hand_computed():
    ref, pred = tokenize_ja(REF_C), tokenize_ja(PRED_C)
    # 5 exact matches in 2 chunks: P = R = Fmean = 5/6; penalty 0.5 * (2/5)^3 = 0.032.
    assert meteor(ref, pred) == pytest.approx(5 / 6 * (1 - 0.032))
    # Identical: 1 chunk of 6 matches, penalty 0.5 * (1/6)^3, so just under 1.
    assert meteor(ref, ref) == pytest.approx(1 - 0.5 / 216)
    assert meteor(ref, []) == 0.0


# --- report sections and evaluation --------------------------------------------------------


REPORT = "所見：両側肺野に浸潤影を認めない。心拡大なし。\n印象：異常なし。"


def test_extract_sections():
    assert extract_findings(REPORT) == "両側肺野に浸潤影を認めない。心拡大なし。"
    assert extract_impression(REPORT) == "異常なし。"
    assert extract_findings("所見: 胸水なし。 印象: 正常。") == "胸水なし。"
    assert extract_findings("所見：気胸なし。 ") == "気胸なし。"
    assert extract_findings("  気胸なし。\n") == "気胸なし。"
    assert extract_impression("所見：気胸なし。") == ""
    assert extract_findings("所見：\n印象：異常なし。") == ""


def test_score_report_empty_prediction_is_zero():
    scores = score_report(REF_A, "", char_level=True)
    assert set(scores) == {
        "rouge_l", "bleu1", "bleu2", "bleu3", "bleu4", "meteor",
        "char_bleu1", "char_bleu2", "char_bleu3", "char_bleu4",
    }  # fmt: skip
    assert all(value == 0.0 for value in scores.values())


def test_score_report_identical_is_one():
    scores = score_report(REF_A, REF_A, char_level=True)
    for name, value in scores.items():
        if name != "meteor":
            assert value == pytest.approx(1.0), name


def test_evaluate_reports_skips_empty_references():
    result = evaluate_reports([REF_A, REF_B, "  "], [PRED_A, PRED_B, "何か"])
    assert result["n"] == 2
    assert result["skipped"] == 1
    assert "char_bleu1" not in result
    rouge = result["rouge_l"]
    assert rouge["mean"] == pytest.approx((5 / 7 + 3 / 5) / 2)
    # Two samples: resample means are 3/5, their average or 5/7; each end has 25% mass.
    assert rouge["lower"] == pytest.approx(3 / 5)
    assert rouge["upper"] == pytest.approx(5 / 7)
    with_char = evaluate_reports([REF_C], [PRED_C], char_bleu=True)
    assert with_char["char_bleu1"]["mean"] == pytest.approx(13 / 15)
    assert with_char["bleu1"]["mean"] == pytest.approx(5 / 6)


def test_evaluate_reports_errors():
    with pytest.raises(MetricsInputError, match="2 references but 1 predictions"):
        evaluate_reports([REF_A, REF_B], [PRED_A])
    with pytest.raises(MetricsInputError, match="nothing to evaluate: all 2 references"):
        evaluate_reports(["", " "], [PRED_A, PRED_B])


# --- bootstrap ----------------------------------------------------------------------------


def test_bootstrap_ci_deterministic_and_pinned():
    scores = [0.1, 0.4, 0.35, 0.8, 0.6]
    first = bootstrap_ci(scores)
    assert first == bootstrap_ci(scores)
    assert first.lower <= first.mean <= first.upper
    assert first.mean == pytest.approx(0.45)
    assert first.lower == pytest.approx(0.25)
    assert first.upper == pytest.approx(0.66025)
    assert bootstrap_ci([0.5] * 7) == (0.5, 0.5, 0.5)
    assert all(np.isnan(bootstrap_ci([])))


def test_bootstrap_ci_reproduces_the_reference_loop():
    # The reference code: np.random.seed(42), then one np.random.choice per resample.
    scores = np.random.default_rng(7).random(23)
    legacy = np.random.RandomState(42)
    means = [np.mean(legacy.choice(scores, len(scores), replace=True)) for _ in range(500)]
    ci = bootstrap_ci(scores, n_resamples=500)
    assert ci.lower == np.percentile(means, 2.5)
    assert ci.upper == np.percentile(means, 97.5)
    assert ci.mean == np.mean(scores)


# --- predictions files --------------------------------------------------------------------


def _write(path, text, encoding="utf-8-sig"):
    path.write_bytes(text.encode(encoding))
    return path


def test_read_csv_with_bom_and_multiline_cells(tmp_path):
    path = _write(
        tmp_path / "予測.csv",
        f'id,ja_text,preds\n1,"{REPORT}",{extract_findings(REPORT)}\n2,"{REF_A}",\n',
    )
    references, predictions = read_predictions_file(path)
    assert references == [REPORT, REF_A]
    assert predictions == [extract_findings(REPORT), ""]


def test_evaluate_csv_extracts_findings(tmp_path):
    path = _write(tmp_path / "p.csv", f'ja_text,preds\n"{REPORT}",{extract_findings(REPORT)}\n')
    result = evaluate_predictions_file(path)
    assert result["rouge_l"]["mean"] == 1.0
    assert result["file"] == str(path)
    full = evaluate_predictions_file(path, section="full")
    assert full["rouge_l"]["mean"] < 1.0


def test_evaluate_jsonl_with_bom(tmp_path):
    lines = [
        json.dumps({"ja_text": REF_A, "preds": PRED_A}, ensure_ascii=False),
        "",
        json.dumps({"ja_text": REF_B, "preds": PRED_B}, ensure_ascii=False),
        json.dumps({"ja_text": "", "preds": None}),
    ]
    path = _write(tmp_path / "p.jsonl", "\n".join(lines) + "\n")
    result = evaluate_predictions_file(path, char_bleu=True)
    assert (result["n"], result["skipped"]) == (2, 1)
    assert result["rouge_l"]["mean"] == pytest.approx((5 / 7 + 3 / 5) / 2)
    assert "char_bleu4" in result
    plain = _write(tmp_path / "q.jsonl", lines[0], encoding="utf-8")
    assert read_predictions_file(plain) == ([REF_A], [PRED_A])


def test_file_errors(tmp_path):
    csv_path = _write(tmp_path / "p.csv", "ja_text,output\nA,B\n")
    with pytest.raises(
        MetricsInputError,
        match=r"p\.csv: row 0 \(the header, line 1\) has no column 'preds'; "
        r"columns are: ja_text, output",
    ):
        read_predictions_file(csv_path)
    short = _write(tmp_path / "short.csv", "ja_text,preds\nA,B\nC\n")
    with pytest.raises(MetricsInputError, match=r"row 2 \(line 3\) does not have the header's 2"):
        read_predictions_file(short)
    missing = _write(
        tmp_path / "m.jsonl", '{"ja_text": "A", "preds": "B"}\n{"ja_text": "A", "pred": "B"}\n'
    )
    with pytest.raises(
        MetricsInputError, match=r"m\.jsonl: line 2 has no field 'preds'; fields are: ja_text, pred"
    ):
        read_predictions_file(missing)
    bad = _write(tmp_path / "bad.jsonl", '{"ja_text": "A", "preds": "B"}\n\n{"ja_text": "A",\n')
    with pytest.raises(MetricsInputError, match=r"bad\.jsonl: line 3 is not valid JSON"):
        read_predictions_file(bad)
    listed = _write(tmp_path / "l.jsonl", '["A", "B"]\n')
    with pytest.raises(MetricsInputError, match="line 1 must be a JSON object, got list"):
        read_predictions_file(listed)
    typed = _write(tmp_path / "t.jsonl", '{"ja_text": "A", "preds": ["B"]}\n')
    with pytest.raises(MetricsInputError, match="field 'preds' must be a string, got list"):
        read_predictions_file(typed)
    with pytest.raises(MetricsInputError, match=r"unsupported file type '\.txt'"):
        read_predictions_file(tmp_path / "p.txt")
    with pytest.raises(MetricsInputError, match=r"absent\.csv: predictions file not found"):
        read_predictions_file(tmp_path / "absent.csv")
    sjis = _write(tmp_path / "s.csv", f"ja_text,preds\n{REF_A},{PRED_A}\n", encoding="cp932")
    with pytest.raises(MetricsInputError, match=r"s\.csv: not UTF-8 text"):
        read_predictions_file(sjis)
    empty = _write(tmp_path / "e.csv", "ja_text,preds\n")
    with pytest.raises(MetricsInputError, match=r"e\.csv: no rows to evaluate"):
        evaluate_predictions_file(empty)
