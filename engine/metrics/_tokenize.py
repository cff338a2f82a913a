"""Japanese word segmentation: fugashi (MeCab) with the unidic-lite dictionary."""

from __future__ import annotations

import functools
import os
from typing import Any


@functools.cache
def _tagger() -> Any:
    """One MeCab tagger per process (building it reads a ~50 MB dictionary).

    The dictionary is named explicitly: ``fugashi.Tagger()`` alone would prefer the full
    ``unidic`` package when it is installed, which segments differently from unidic-lite.
    A MeCab tagger is not thread-safe; the engine evaluates on one thread.
    """
    import fugashi
    import unidic_lite

    dicdir = unidic_lite.DICDIR
    rcfile = os.path.join(dicdir, "mecabrc")
    return fugashi.Tagger(f'-d "{dicdir}" -r "{rcfile}"')


def tokenize_ja(text: str) -> list[str]:
    """Split Japanese text into words, as ``MeCab -Owakati`` with unidic-lite and ``str.split()``.

    Whitespace is not a token (MeCab skips ASCII spaces, tabs and newlines; a full-width space,
    which MeCab does emit, is dropped here as ``str.split()`` on the wakati string drops it).
    """
    if not text or text.isspace():
        return []
    return [word.surface for word in _tagger()(text) if word.surface.strip()]


def wakati(text: str) -> str:
    """The tokens joined by single spaces: the string MeCab ``-Owakati`` prints."""
    return " ".join(tokenize_ja(text))
