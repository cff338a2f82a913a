"""Evaluation metrics: Japanese tokenisation, ROUGE-L / BLEU / METEOR with bootstrap CIs for
generated reports, and Gestalt / IgakuQA scoring for medical QA. Headless, offline."""

from engine.metrics._bootstrap import ConfidenceInterval, bootstrap_ci
from engine.metrics._errors import MetricsInputError
from engine.metrics._files import evaluate_predictions_file, read_predictions_file
from engine.metrics._qa import (
    QuestionScore,
    aggregate,
    exam_year,
    gestalt,
    normalize_response,
    parse_answer_letters,
    parse_problem_id,
    score_question,
)
from engine.metrics._report import (
    CHAR_BLEU_METRICS,
    REPORT_METRICS,
    evaluate_reports,
    extract_findings,
    extract_impression,
    score_report,
)
from engine.metrics._text import BLEU_WEIGHTS, bleu, char_bleu, lcs_length, meteor, rouge_l
from engine.metrics._tokenize import tokenize_ja, wakati

__all__ = [
    "BLEU_WEIGHTS",
    "CHAR_BLEU_METRICS",
    "REPORT_METRICS",
    "ConfidenceInterval",
    "MetricsInputError",
    "QuestionScore",
    "aggregate",
    "bleu",
    "bootstrap_ci",
    "char_bleu",
    "evaluate_predictions_file",
    "evaluate_reports",
    "exam_year",
    "extract_findings",
    "extract_impression",
    "gestalt",
    "lcs_length",
    "meteor",
    "normalize_response",
    "parse_answer_letters",
    "parse_problem_id",
    "read_predictions_file",
    "rouge_l",
    "score_question",
    "score_report",
    "tokenize_ja",
    "wakati",
]
