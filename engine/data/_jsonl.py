"""Reading JSON Lines leniently: good lines load, bad ones become problems with file and line
(or, strictly, the first bad line stops the read with its file and line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data._errors import DataError


@dataclass(frozen=True)
class DataProblem:
    """One line (or, with ``line`` 0, one file) that did not load, and why."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def note_problem(problems: list[DataProblem], problem: DataProblem, strict: bool) -> None:
    """Record ``problem``; a strict read stops at it with a :class:`DataError` instead."""
    if strict:
        raise DataError(
            f"{problem} (strict: the first bad line stops the run; fix or remove the line, "
            "or turn strict off to skip bad lines with a warning)."
        )
    problems.append(problem)


def read_jsonl(
    path: Path, problems: list[DataProblem], strict: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each JSON object line of ``path`` (UTF-8, BOM allowed).

    Blank lines are skipped; a line that is not UTF-8, not JSON or not an object is appended
    to ``problems`` and skipped, or with ``strict`` raises :class:`DataError` naming
    ``file:line``. An unreadable file raises :class:`DataError`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}).") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            why = f"not UTF-8 text (bad byte at column {exc.start + 1})"
            note_problem(problems, DataProblem(path, number, why), strict)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            why = f"not valid JSON ({exc.msg} at column {exc.colno}): {line[:60]!r}"
            note_problem(problems, DataProblem(path, number, why), strict)
            continue
        if not isinstance(record, dict):
            why = f"must be a JSON object, got {type(record).__name__}"
            note_problem(problems, DataProblem(path, number, why), strict)
            continue
        yield number, record


def jsonl_files(paths: Iterable[str | Path], skip_suffixes: tuple[str, ...] = ()) -> list[Path]:
    """The ``.jsonl`` files named, folders searched recursively (sorted); names ending in one of
    ``skip_suffixes`` (e.g. ``"_metadata.jsonl"``) are left out of folders."""
    files: list[Path] = []
    for item in paths:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*.jsonl")
                if p.is_file() and not p.name.endswith(skip_suffixes)
            )
            if not found:
                raise DataError(f"{path}: the folder has no .jsonl files.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder.")
    return files


def nothing_loaded(what: str, problems: list[DataProblem], limit: int = 10) -> str:
    """A message for "nothing loaded", listing the first ``limit`` problems."""
    shown = "\n- ".join(str(p) for p in problems[:limit])
    more = f"\n(and {len(problems) - limit} more)" if len(problems) > limit else ""
    detail = f":\n- {shown}{more}" if problems else "."
    return f"no usable {what} found{detail}"


def skipped_summary(what: str, problems: Sequence[DataProblem], limit: int = 5) -> str:
    """A warning for lines skipped by a lenient read: how many, and the first ``limit`` with
    file, line and reason."""
    shown = "\n- ".join(str(p) for p in problems[:limit])
    more = f"\n(and {len(problems) - limit} more)" if len(problems) > limit else ""
    return f"{len(problems)} {what} line(s) skipped, they do not load:\n- {shown}{more}"
