"""Instruction-tuning data: JSON Lines of ``{"instruction", "input", "output"}`` (Alpaca's
fields, as JMedLoRA's QA pairs generated from medical text).

``instruction`` and ``output`` are required non-empty strings; ``input`` is optional (missing
or null reads as ""); other fields are ignored. A bad line is reported with its file and line
number and the rest loads; with ``strict`` the first bad line raises instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.data._errors import DataError
from engine.data._jsonl import (
    DataProblem,
    jsonl_files,
    note_problem,
    nothing_loaded,
    read_jsonl,
)


@dataclass(frozen=True)
class InstructionExample:
    """One instruction/response pair; ``source`` is ``"file:line"``."""

    instruction: str
    input: str
    output: str
    source: str = ""


@dataclass(frozen=True)
class InstructionSet:
    """The examples that loaded, and the lines that did not."""

    examples: tuple[InstructionExample, ...]
    problems: tuple[DataProblem, ...]
    files: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.examples)


def _field(record: dict, key: str, required: bool) -> tuple[str, str]:
    """``(value, "")``, or ``("", why it is unusable)``."""
    value = record.get(key)
    if value is None:
        return "", f"has no field {key!r}" if required else ""
    if not isinstance(value, str):
        return "", f"field {key!r} must be a string, got {type(value).__name__}"
    if required and not value.strip():
        return "", f"field {key!r} is empty"
    return value, ""


def load_instructions(*paths: str | Path, strict: bool = False) -> InstructionSet:
    """Read instruction JSONL files (folders: every ``*.jsonl`` under them, sorted).

    Raises :class:`DataError` when a path does not exist, no example loads at all, or (with
    ``strict``) at the first line that does not load, naming its file and line.
    """
    if not paths:
        raise DataError("no instruction data given: name a .jsonl file or a folder of them.")
    files = jsonl_files(paths)
    examples: list[InstructionExample] = []
    problems: list[DataProblem] = []
    for path in files:
        for number, record in read_jsonl(path, problems, strict):
            fields = {}
            for key, required in (("instruction", True), ("input", False), ("output", True)):
                fields[key], why = _field(record, key, required)
                if why:
                    note_problem(problems, DataProblem(path, number, why), strict)
                    break
            else:
                examples.append(InstructionExample(**fields, source=f"{path}:{number}"))
    if not examples:
        raise DataError(nothing_loaded("instruction examples", problems))
    return InstructionSet(tuple(examples), tuple(problems), tuple(files))
