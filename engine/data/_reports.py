"""Image-report pairs from a CSV or JSONL file: the development set the evolution scores on.

Each row names an image (DICOM, PNG or JPEG; a relative path is taken from the data file's
folder) and either a whole report, whose findings are the text between ``所見：`` and
``印象：`` (``engine.metrics.extract_findings``), or a findings column directly. Rows whose
findings are empty are skipped and counted, as JRadiEvo does. Every problem is a
``DataError`` that names the file, the row and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._text import read_utf8
from engine.data._errors import DataError
from engine.metrics import extract_findings
from jradi_desktop.contract import FINDINGS_COLUMNS, IMAGE_COLUMNS, REPORT_COLUMNS
from jradi_desktop.imaging import MODEL_SIZE

if TYPE_CHECKING:
    from PIL import Image

_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class ReportPair:
    """One development sample: an image file and its reference findings text."""

    image: Path
    findings: str
    report: str  # the whole report as given ("" when only findings were given)
    row: int  # 1-based data row (CSV: after the header; JSONL: non-blank line number)
    source: Path

    def where(self) -> str:
        return f"{self.source}: row {self.row}"

    def model_image(self, size: tuple[int, int] | None = MODEL_SIZE) -> Image.Image:
        """The image as the model sees it (``jradi_desktop.imaging.to_model_rgb``)."""
        from jradi_desktop.imaging import ImageLoadError, open_image, to_model_rgb

        try:
            return to_model_rgb(open_image(self.image), size=size)
        except ImageLoadError as exc:
            raise DataError(f"{self.where()}: unreadable image: {exc.message_en}") from exc


@dataclass(frozen=True)
class ReportSet:
    """The usable pairs of a data file and how many rows were skipped for empty findings."""

    pairs: list[ReportPair]
    skipped: int
    source: Path

    def __len__(self) -> int:
        return len(self.pairs)


def _csv_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    rows = []
    try:
        for number, row in enumerate(reader, start=1):
            if None in row or any(v is None for v in row.values()):
                raise DataError(
                    f"{path}: row {number} (line {reader.line_num}) does not have the header's "
                    f"{len(header)} fields."
                )
            rows.append((number, row))
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({exc}).") from exc
    return header, rows


def _jsonl_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    keys: dict[str, None] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number = len(rows) + 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}: row {number} (line {line_number}) is not valid JSON ({exc.msg})."
            ) from exc
        if not isinstance(record, dict):
            raise DataError(f"{path}: row {number} (line {line_number}) is not a JSON object.")
        keys.update(dict.fromkeys(record))
        rows.append((number, record))
    return list(keys), rows


def _columns(path: Path, header: Sequence[str]) -> str:
    where = "the header (line 1)" if path.suffix.lower() == ".csv" else "no row"
    return f"{where} has {{what}}; columns are: {', '.join(header) or '(none)'}."


def _pick(
    path: Path, header: Sequence[str], asked: str | None, candidates: Sequence[str]
) -> str | None:
    if asked is not None:
        if asked not in header:
            what = f"no column {asked!r}" if path.suffix.lower() == ".csv" else f"{asked!r}"
            raise DataError(f"{path}: " + _columns(path, header).format(what=what))
        return asked
    return next((c for c in candidates if c in header), None)


def _text(path: Path, number: int, column: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(
            f"{path}: row {number}: column {column!r} must be text, got {type(value).__name__}."
        )
    return value


def load_report_pairs(
    path: str | Path,
    *,
    image_col: str | None = None,
    report_col: str | None = None,
    findings_col: str | None = None,
    open_images: bool = False,
) -> ReportSet:
    """Read image-report pairs from a CSV or JSONL file.

    Columns are found by name (image: ``image``, ``image_path``, ``path``, ``file``; report:
    ``report``, ``text``, ``ja_text``; findings: ``findings``, ``所見``) unless named. A
    findings column wins over a report column. ``open_images`` also decodes every image, so an
    unreadable one is reported now rather than when the model first needs it.
    """
    path = Path(path)
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown data format {path.suffix!r}; use .csv or .jsonl.")
    text = read_utf8(path, DataError, "data file")
    header, rows = (_csv_rows if kind == "csv" else _jsonl_rows)(path, text)
    image = _pick(path, header, image_col, IMAGE_COLUMNS)
    if image is None:
        what = f"no image column (one of {', '.join(IMAGE_COLUMNS)})"
        raise DataError(f"{path}: " + _columns(path, header).format(what=what))
    findings = _pick(path, header, findings_col, () if report_col else FINDINGS_COLUMNS)
    report = None if findings else _pick(path, header, report_col, REPORT_COLUMNS)
    if findings is None and report is None:
        what = (
            f"no report column ({', '.join(REPORT_COLUMNS)}) and no findings column "
            f"({', '.join(FINDINGS_COLUMNS)})"
        )
        raise DataError(f"{path}: " + _columns(path, header).format(what=what))
    pairs, skipped = [], 0
    for number, row in rows:
        missing = [c for c in (image, findings or report) if c not in row]
        if missing:
            raise DataError(f"{path}: row {number} has no field {missing[0]!r}.")
        name = _text(path, number, image, row.get(image)).strip()
        if not name:
            raise DataError(f"{path}: row {number}: the image column {image!r} is empty.")
        file = Path(name).expanduser()
        file = file if file.is_absolute() else path.parent / file
        if not file.is_file():
            raise DataError(f"{path}: row {number}: image file not found: {file}.")
        if findings is not None:
            whole, target = "", _text(path, number, findings, row.get(findings)).strip()
        else:
            whole = _text(path, number, str(report), row.get(report))
            target = extract_findings(whole)
        if not target:
            skipped += 1
            continue
        pairs.append(ReportPair(file, target, whole, number, path))
    if not pairs:
        raise DataError(
            f"{path}: no usable rows ({len(rows)} rows, {skipped} with empty findings)."
        )
    if open_images:
        for pair in pairs:
            pair.model_image(size=None)
    return ReportSet(pairs, skipped, path)
