"""Data for the engine: image-report pairs (the evolution's development set)."""

from engine.data._errors import DataError
from engine.data._igakuqa import QADataset, QAQuestion, choice_letter, load_igakuqa
from engine.data._instructions import (
    InstructionExample,
    InstructionSet,
    load_instructions,
)
from engine.data._jsonl import DataProblem, read_jsonl, skipped_summary
from engine.data._reports import ReportPair, ReportSet, load_report_pairs

__all__ = [
    "DataError",
    "ReportPair",
    "ReportSet",
    "load_report_pairs",
]
__all__ += [
    "DataProblem",
    "InstructionExample",
    "InstructionSet",
    "QADataset",
    "QAQuestion",
    "choice_letter",
    "load_igakuqa",
    "load_instructions",
    "read_jsonl",
    "skipped_summary",
]
