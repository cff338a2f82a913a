"""Report-generation evaluation: sections of a report, per-sample scores, CI per metric."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.metrics import _text
from engine.metrics._bootstrap import bootstrap_ci
from engine.metrics._errors import MetricsInputError
from engine.metrics._tokenize import tokenize_ja

_FINDINGS = re.compile(r"所見\s*[：:]")
_IMPRESSION = re.compile(r"印象\s*[：:]")

REPORT_METRICS: tuple[str, ...] = ("rouge_l", "bleu1", "bleu2", "bleu3", "bleu4", "meteor")
CHAR_BLEU_METRICS: tuple[str, ...] = ("char_bleu1", "char_bleu2", "char_bleu3", "char_bleu4")


def extract_findings(report_text: str) -> str:
    """The Findings section: the text between ``所見：`` and ``印象：`` (full- or half-width colon).

    Without an ``印象`` marker after it, everything after ``所見``; without a ``所見`` marker,
    the whole text. Always stripped.
    """
    start = _FINDINGS.search(report_text)
    if start is None:
        return report_text.strip()
    end = _IMPRESSION.search(report_text, start.end())
    stop = end.start() if end is not None else len(report_text)
    return report_text[start.end() : stop].strip()


def extract_impression(report_text: str) -> str:
    """The Impression section: everything after ``印象：`` (stripped), or "" when absent."""
    findings = _FINDINGS.search(report_text)
    start = _IMPRESSION.search(report_text, findings.end() if findings else 0)
    if start is None:
        return ""
    return report_text[start.end() :].strip()


def score_report(reference: str, prediction: str, char_level: bool = False) -> dict[str, float]:
    """Per-sample scores of one generated report against its reference (tokenised with MeCab).

    Keys are :data:`REPORT_METRICS`, plus :data:`CHAR_BLEU_METRICS` when ``char_level``.
    """
    ref = tokenize_ja(reference)
    pred = tokenize_ja(prediction)
    scores = {"rouge_l": _text.rouge_l(ref, pred)}
    for n in _text.BLEU_WEIGHTS:
        scores[f"bleu{n}"] = _text.bleu(ref, pred, n)
    scores["meteor"] = _text.meteor(ref, pred)
    if char_level:
        for n in _text.BLEU_WEIGHTS:
            scores[f"char_bleu{n}"] = _text.char_bleu(ref, pred, n)
    return scores


def evaluate_reports(
    references: Sequence[str], predictions: Sequence[str], char_bleu: bool = False
) -> dict:
    """Mean and bootstrap 95% CI of every metric over reference/prediction pairs.

    Pairs whose reference is empty (after stripping) are skipped and counted in ``skipped``;
    an empty prediction scores 0. Returns ``{metric: {"mean", "lower", "upper"}, "n": int,
    "skipped": int}`` for :data:`REPORT_METRICS` (and :data:`CHAR_BLEU_METRICS` when asked).
    Texts are compared as given: extract sections first (:func:`extract_findings`) if needed.
    """
    if len(references) != len(predictions):
        raise MetricsInputError(
            f"{len(references)} references but {len(predictions)} predictions: "
            "they must pair up one to one"
        )
    names = REPORT_METRICS + (CHAR_BLEU_METRICS if char_bleu else ())
    per_metric: dict[str, list[float]] = {name: [] for name in names}
    skipped = 0
    for reference, prediction in zip(references, predictions, strict=True):
        if not reference or not reference.strip():
            skipped += 1
            continue
        for name, value in score_report(reference, prediction or "", char_bleu).items():
            per_metric[name].append(value)
    n = len(references) - skipped
    if n == 0:
        raise MetricsInputError(
            f"nothing to evaluate: all {skipped} references are empty "
            "(check the reference column and the section extraction)"
        )
    result: dict = {name: bootstrap_ci(values)._asdict() for name, values in per_metric.items()}
    result["n"] = n
    result["skipped"] = skipped
    return result
