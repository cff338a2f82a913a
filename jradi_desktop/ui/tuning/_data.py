"""What the wizard checks before a run, with the standard library only (no torch, no engine).

The engine's own loaders (``engine.data``) pull in its metrics stack; the wizard only needs a
preview and an early, field-side error, so it reads CSV / JSONL, ``config.json`` and the
safetensors headers itself. The engine checks everything again when the job starts.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from jradi_desktop.contract import ALL_ROLES, FINDINGS_COLUMNS, IMAGE_COLUMNS, REPORT_COLUMNS

GB = 1024**3
ROOT = Path(__file__).resolve().parents[3]


def sample_path(name: str) -> Path | None:
    """``resources/samples/NAME`` of a source checkout, if there."""
    path = ROOT / "resources" / "samples" / name
    return path if path.exists() else None


def find_demo_models(*candidates: Path | None) -> Path | None:
    """The first folder holding the five demo model folders (``jradi-engine demo-models``)."""
    for folder in candidates:
        if folder is not None and all((folder / m / "config.json").is_file() for m in ALL_ROLES):
            return folder
    return None


# -- model folders ----------------------------------------------------------------------------
def model_folder_problem(text: str) -> str:
    """Why ``text`` is not a Hugging Face model folder ("" when it is one)."""
    from jradi_desktop.models import folder_problems

    if not text.strip():
        return QCoreApplication.translate("Tuning", "フォルダーを選んでください。")
    path = Path(text).expanduser()
    kinds = [problem.kind for problem in folder_problems(path)]
    if "no_folder" in kinds:
        return QCoreApplication.translate("Tuning", "フォルダーがありません。")
    if "no_config" in kinds:
        return QCoreApplication.translate(
            "Tuning",
            "config.json がありません（Hugging Face 形式のモデルフォルダーを選んでください）。",
        )
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return QCoreApplication.translate(
            "Tuning", "config.json を読めません（JSON ではありません）。"
        )
    if "no_weights" in kinds:
        return QCoreApplication.translate(
            "Tuning",
            "safetensors 形式の重みがありません（安全のため safetensors のみ読み込みます）。",
        )
    return ""


@dataclass(frozen=True)
class WeightsInfo:
    bytes: int = 0
    parameters: int = 0


def weights_info(folder: Path) -> WeightsInfo:
    """Size and parameter count of a folder's safetensors files (headers only)."""
    size = count = 0
    for file in sorted(Path(folder).glob("*.safetensors")):
        try:
            size += file.stat().st_size
            with file.open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(min(length, 100_000_000)))
        except (OSError, ValueError, struct.error):
            continue
        for name, tensor in header.items():
            if name == "__metadata__" or not isinstance(tensor, dict):
                continue
            n = 1
            for dim in tensor.get("shape", []):
                n *= int(dim)
            count += n
    return WeightsInfo(size, count)


def free_bytes(path: Path) -> int | None:
    """Free space on the disk that holds ``path`` (or its nearest existing parent)."""
    path = Path(path).expanduser().absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def gigabytes(n: float) -> str:
    return f"{n / GB:.1f} GB" if n >= GB / 10 else f"{n / 1024**2:.1f} MB"


# -- the development set (image-report pairs) -------------------------------------------------
@dataclass
class DevPreview:
    """The rows of a dev set file as the engine will read them, or the reason it cannot."""

    rows: list[tuple[Path, str]] = field(default_factory=list)  # (image, reference text)
    skipped: int = 0
    error: str = ""


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


def read_dev_set(text: str, limit: int = 10_000) -> DevPreview:
    """Read a CSV / JSONL dev set (columns found by name, as ``engine.data`` does)."""
    out = DevPreview()
    if not text.strip():
        out.error = QCoreApplication.translate(
            "Tuning", "データファイル（CSV または JSONL）を選んでください。"
        )
        return out
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        out.error = QCoreApplication.translate(
            "Tuning", "CSV（.csv）または JSONL（.jsonl）ファイルを選んでください。"
        )
        return out
    if not path.is_file():
        out.error = QCoreApplication.translate("Tuning", "ファイルがありません。")
        return out
    try:
        data = _read_text(path)
    except (OSError, UnicodeDecodeError):
        out.error = QCoreApplication.translate("Tuning", "UTF-8 のテキストとして読めません。")
        return out
    records: list[dict] = []
    try:
        if suffix == ".csv":
            records = list(csv.DictReader(io.StringIO(data, newline="")))
        else:
            records = [json.loads(line) for line in data.splitlines() if line.strip()]
    except (csv.Error, ValueError):
        out.error = QCoreApplication.translate(
            "Tuning", "ファイルの形式が正しくありません（CSV / JSON Lines として読めません）。"
        )
        return out
    records = [r for r in records if isinstance(r, dict)]
    keys = list(dict.fromkeys(k for r in records for k in r if isinstance(k, str)))
    image = next((c for c in IMAGE_COLUMNS if c in keys), None)
    target = next((c for c in (*FINDINGS_COLUMNS, *REPORT_COLUMNS) if c in keys), None)
    if image is None or target is None:
        out.error = QCoreApplication.translate(
            "Tuning",
            "画像の列（image, path など）とレポートの列（report, findings など）が必要です。列: ",
        ) + (", ".join(keys) or "-")
        return out
    for record in records[:limit]:
        name, report = record.get(image), record.get(target)
        if not isinstance(name, str) or not name.strip():
            continue
        if not isinstance(report, str) or not report.strip():
            out.skipped += 1
            continue
        file = Path(name.strip()).expanduser()
        out.rows.append((file if file.is_absolute() else path.parent / file, report.strip()))
    if not out.rows:
        out.error = QCoreApplication.translate(
            "Tuning", "使える行がありません（画像とレポートの両方がある行が必要です）。"
        )
        return out
    missing = [str(f) for f, _ in out.rows if not f.is_file()]
    if missing:
        out.error = (
            QCoreApplication.translate("Tuning", "画像ファイルが見つかりません: ") + missing[0]
        )
    return out


# -- instruction data (JSON Lines) ----------------------------------------------------------
@dataclass
class InstructionPreview:
    records: list[dict[str, str]] = field(default_factory=list)  # the first few, for display
    count: int = 0
    bad_lines: list[int] = field(default_factory=list)
    error: str = ""


def read_instructions(text: str, show: int = 5) -> InstructionPreview:
    """Count the usable ``{"instruction", "input", "output"}`` lines of a JSONL file."""
    out = InstructionPreview()
    if not text.strip():
        out.error = QCoreApplication.translate("Tuning", "指示データ（JSONL）を選んでください。")
        return out
    path = Path(text).expanduser()
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    if not path.exists():
        out.error = QCoreApplication.translate("Tuning", "ファイルがありません。")
        return out
    if not files:
        out.error = QCoreApplication.translate(
            "Tuning", "フォルダーに .jsonl ファイルがありません。"
        )
        return out
    for file in files:
        try:
            lines = _read_text(file).splitlines()
        except (OSError, UnicodeDecodeError):
            out.error = QCoreApplication.translate(
                "Tuning", "UTF-8 のテキストとして読めません: "
            ) + str(file)
            return out
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            ok = isinstance(record, dict) and all(
                isinstance(record.get(k), str) and record[k].strip()
                for k in ("instruction", "output")
            )
            if not ok or not isinstance(record, dict):
                out.bad_lines.append(number)
                continue
            out.count += 1
            if len(out.records) < show:
                out.records.append({k: str(record.get(k) or "") for k in
                                    ("instruction", "input", "output")})  # fmt: skip
    if not out.count:
        out.error = QCoreApplication.translate(
            "Tuning", "使える行がありません（instruction と output が必要です）。"
        )
    return out
