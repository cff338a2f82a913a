"""Japanese medical multiple-choice QA scoring (JMedLoRA's Gestalt metrics, IgakuQA's official
letter-set accuracy and points)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

# Official IgakuQA scorer (scripts/evaluate_main.py): 116A71 counts as correct for everyone,
# 112B30 accepts either of two answers.
_ALWAYS_CORRECT = frozenset({"116A71"})
_ALTERNATIVE_ANSWERS: dict[str, tuple[tuple[str, ...], ...]] = {"112B30": (("a",), ("d",))}
_PROBLEM_ID = re.compile(r"^(\d+)([A-Za-z])(\d+)$")
_WHITESPACE = re.compile(r"\s+")
_JA_PUNCT = str.maketrans({"、": ",", "。": "."})


def normalize_response(text: str) -> str:
    """Canonical form of a response or a choice for comparison.

    NFKC (full-width letters, digits and punctuation such as ``ａ``, ``，``, ``：`` become
    half-width), ``、`` → ``,`` and ``。`` → ``.``, all whitespace removed (Japanese answers
    carry none that matters; "a, c" becomes "a,c"), then '.' stripped from both ends.
    """
    text = unicodedata.normalize("NFKC", text or "").translate(_JA_PUNCT)
    return _WHITESPACE.sub("", text).strip(".")


def gestalt(r: str, c: str, symmetric: bool = True) -> float:
    """Gestalt (Ratcliff/Obershelp) similarity 2|K| / (|r| + |c|) of two strings.

    ``difflib.SequenceMatcher(None, r, c).ratio()`` is not symmetric (the matching blocks it
    finds, and its junk heuristic for strings of 200+ characters, depend on the order), so by
    default the ratio is averaged over both orders, as the JMedLoRA authors' later harness
    does. ``symmetric=False`` gives the paper's one-way ``ratio(r, c)``.
    """
    forward = SequenceMatcher(None, r, c).ratio()
    if not symmetric:
        return forward
    return (forward + SequenceMatcher(None, c, r).ratio()) / 2


def _answer_part(normalized: str) -> str:
    """What follows the last colon ("答え: b" → "b"), '.' stripped from both ends."""
    return normalized.rsplit(":", 1)[-1].strip(".")


def parse_answer_letters(response: str) -> tuple[str, ...] | None:
    """Choice letters of a letter answer, sorted: "a", "a,c", "ａ，ｃ", "答え: b", "C、A".

    Returns None when the answer part is not a comma-separated list of single letters.

    Deliberately stricter than the app's ``jradi_desktop.inference.parse_answer_letters``,
    which also reads "正解は c です" or "b. 肥満" as an answer: IgakuQA's official scorer
    counts a reply only when it *is* the letter list, so following the app's reading here
    would raise accuracies above what the published scorer gives for the same replies.
    """
    parts = _answer_part(normalize_response(response).lower()).split(",")
    if not all(len(part) == 1 and "a" <= part <= "z" for part in parts):
        return None
    return tuple(sorted(parts))


@dataclass(frozen=True)
class QuestionScore:
    """Scores of one response.

    ``correct``: the top-k choices by Gestalt score are the k gold choices. ``predicted``:
    those letters (empty when no choice resembles the response at all). ``parsed``: letters
    read from the response for the official IgakuQA metric (None if it is not a letter list).
    """

    correct: bool
    exact_match: bool
    gestalt: float
    igakuqa_correct: bool
    points: int
    predicted: tuple[str, ...] = ()
    parsed: tuple[str, ...] | None = None

    @property
    def earned(self) -> int:
        """Official IgakuQA points earned: the question's points if correct, else 0."""
        return self.points if self.igakuqa_correct else 0


def _letter(index: int) -> str:
    return chr(ord("a") + index)


def _split_answer(answer: Sequence[str] | str) -> tuple[str, ...]:
    items = answer.split(",") if isinstance(answer, str) else answer
    gold = tuple(normalize_response(item) for item in items)
    if not gold or not all(gold):
        raise ValueError(f"answer {answer!r} must name at least one answer")
    return gold


def _gold_letters(answer_letters: Sequence[str] | str, n_choices: int) -> tuple[str, ...]:
    gold = tuple(sorted(item.lower() for item in _split_answer(answer_letters)))
    valid = {_letter(i) for i in range(n_choices)}
    bad = [item for item in gold if item not in valid]
    if bad:
        raise ValueError(
            f"answer letter(s) {bad} not among the {n_choices} choices ({', '.join(sorted(valid))})"
        )
    return gold


def _official(parsed: tuple[str, ...] | None, gold: tuple[str, ...], problem_id: str) -> bool:
    if problem_id in _ALWAYS_CORRECT:
        return True
    return parsed is not None and parsed in _ALTERNATIVE_ANSWERS.get(problem_id, (gold,))


def _score_numeric(
    response_n: str, gold: tuple[str, ...], points: int, problem_id: str, symmetric: bool
) -> QuestionScore:
    """A question without choices: the answer part of the response against the gold string."""
    target = ",".join(gold)
    answer = _answer_part(response_n)
    parsed = tuple(sorted(answer.split(","))) if answer else None
    return QuestionScore(
        correct=bool(answer) and answer == target,
        exact_match=bool(response_n) and response_n == target,
        gestalt=gestalt(response_n, target, symmetric) if response_n else 0.0,
        igakuqa_correct=_official(parsed, tuple(sorted(gold)), problem_id),
        points=points,
        parsed=parsed,
    )


def score_question(
    response: str,
    choices: Sequence[str],
    answer_letters: Sequence[str] | str,
    points: int | str = 1,
    *,
    problem_id: str | None = None,
    symmetric: bool = True,
) -> QuestionScore:
    """Score one response to a multiple-choice (or numeric-answer) question.

    ``choices`` are the choice texts, lettered a, b, c, ...; ``answer_letters`` the gold
    letters (IgakuQA ``answer``), or for a question without choices the gold answer strings
    (e.g. ``["2.5"]``), compared as normalised strings. Exact match compares the response with
    the gold choice texts joined with ','; ``gestalt`` is taken against that same text. Give
    ``problem_id`` to apply the official scorer's two special cases. An empty response scores
    0 everywhere.
    """
    points = int(points)
    problem_id = (problem_id or "").strip()
    response_n = normalize_response(response)
    if not choices:
        return _score_numeric(
            response_n, _split_answer(answer_letters), points, problem_id, symmetric
        )
    gold = _gold_letters(answer_letters, len(choices))
    choices_n = [normalize_response(choice) for choice in choices]
    target = ",".join(choices_n[ord(letter) - ord("a")] for letter in gold)
    if not response_n:
        return QuestionScore(False, False, 0.0, _official(None, gold, problem_id), points)
    similarity = [gestalt(response_n, choice, symmetric) for choice in choices_n]
    predicted: tuple[str, ...] = ()
    if max(similarity) > 0:
        order = sorted(range(len(choices)), key=lambda i: (-similarity[i], i))
        predicted = tuple(sorted(_letter(i) for i in order[: len(gold)]))
    parsed = parse_answer_letters(response)
    return QuestionScore(
        correct=predicted == gold,
        exact_match=response_n == target,
        gestalt=gestalt(response_n, target, symmetric),
        igakuqa_correct=_official(parsed, gold, problem_id),
        points=points,
        predicted=predicted,
        parsed=parsed,
    )


def parse_problem_id(problem_id: str) -> tuple[int, str, int]:
    """``"116A12"`` → ``(116, "A", 12)``: exam number, block, question number."""
    match = _PROBLEM_ID.match(problem_id.strip())
    if match is None:
        raise ValueError(
            f"problem_id {problem_id!r} is not in IgakuQA form: exam number, block letter, "
            "question number (e.g. '116A12')"
        )
    return int(match[1]), match[2].upper(), int(match[3])


def exam_year(exam: int) -> int:
    """Calendar year of the n-th national medical licensing exam (112 → 2018, 116 → 2022)."""
    return exam + 1906


def _summary(scores: Sequence[QuestionScore]) -> dict:
    n = len(scores)
    return {
        "accuracy": sum(s.correct for s in scores) / n,
        "exact_match": sum(s.exact_match for s in scores) / n,
        "gestalt": sum(s.gestalt for s in scores) / n,
        "igakuqa_accuracy": sum(s.igakuqa_correct for s in scores) / n,
        "igakuqa_points": sum(s.earned for s in scores),
        "igakuqa_points_total": sum(s.points for s in scores),
        "n": n,
    }


def aggregate(scores: Sequence[QuestionScore], groups: Sequence[str] | None = None) -> dict:
    """Means (and IgakuQA points) over questions, with a breakdown when ``groups`` are given.

    ``groups`` are the questions' problem ids ("116A12"): ``by_year`` is keyed by calendar
    year ("2022") and ``by_block`` by exam and block as in IgakuQA file names ("116-A"); ids
    not in that form go under "unknown".
    """
    if not scores:
        raise ValueError("no question scores to aggregate")
    result = _summary(scores)
    if groups is None:
        return result
    if len(groups) != len(scores):
        raise ValueError(f"{len(scores)} scores but {len(groups)} problem ids: they must pair up")
    by_year: dict[str, list[QuestionScore]] = {}
    by_block: dict[str, list[QuestionScore]] = {}
    for score, problem_id in zip(scores, groups, strict=True):
        try:
            exam, block, _ = parse_problem_id(problem_id)
            year_key, block_key = str(exam_year(exam)), f"{exam}-{block}"
        except ValueError:
            year_key = block_key = "unknown"
        by_year.setdefault(year_key, []).append(score)
        by_block.setdefault(block_key, []).append(score)
    result["by_year"] = {key: _summary(by_year[key]) for key in sorted(by_year)}
    result["by_block"] = {key: _summary(by_block[key]) for key in sorted(by_block)}
    return result
