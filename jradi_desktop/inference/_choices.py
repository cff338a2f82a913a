"""Reading the chosen letters out of a model's answer to a multiple-choice question.

This parser is deliberately lenient: it reads what a clinician would read as the answer
("a", "a,c", "ａ，ｃ", "答え: b", "正解は c です", "答えは a と c", "b. 肥満"). The IgakuQA
evaluation in ``engine.metrics`` keeps its own, stricter ``parse_answer_letters``: the official
scorer counts an answer only when the reply *is* a comma-separated letter list (after an
optional "答え:"), so "b. 肥満" or "正解は c です" score as wrong there, and changing that
would change published-comparable accuracies.
"""

from __future__ import annotations

import re
import unicodedata

# Letters separated by commas, Japanese commas, "と", "及び", "and", "&" or "・".
_LIST = r"[a-z](?:\s*(?:,|、|と|及び|および|and|&|・)\s*[a-z])*"
# A letter list must not run into more Latin letters ("a patient" is not an answer).
_END = r"(?![a-z])"
_MARKED = re.compile(
    r"(?:答え|解答|正解|回答|answer)\s*(?:は|:|=|is)?\s*[(\[「]?(" + _LIST + r")" + _END
)
_LEADING = re.compile(r"^\s*[(\[「]?(" + _LIST + r")[)\]」]?" + _END + r"(?=\s*(?:$|[^\sa-z]))")
_LETTER = re.compile(r"[a-z]")


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def parse_answer_letters(response: str) -> tuple[str, ...] | None:
    """The chosen letters, sorted and unique, or None when the response names none.

    Tried in order: a letter list after an answer word (答え / 解答 / 正解 / 回答 / answer,
    with は or a colon), then a letter list at the very start of the response (followed by its
    end, punctuation or Japanese text, not by more Latin letters). Full-width letters and
    punctuation are read as half-width, and case is ignored.
    """
    text = _normalize(response)
    match = _MARKED.search(text) or _LEADING.match(text)
    if match is None:
        return None
    return tuple(sorted(set(_LETTER.findall(match.group(1).replace("and", ",")))))
