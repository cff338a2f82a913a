"""C-GET of one study: each instance written as it arrived, ``<SOPInstanceUID>.dcm``.

We propose one presentation context per (storage SOP class, transfer syntax), so the PACS can
send every instance in the syntax it holds it in (JPEG, JPEG 2000, RLE, deflated…) and the
files written are byte for byte the PACS's datasets: nothing is decoded or transcoded here.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.pacs._association import associate
from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._errors import PacsError, PacsRequestError
from jradi_desktop.pacs._services import UNCOMPRESSED, no_answer, status_text

IMAGE_SOP_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
)
SR_SOP_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR (our reports)
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
)
IMAGE_TRANSFER_SYNTAXES = (
    *UNCOMPRESSED,
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired, still met)
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
)
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
ProgressCallback = Callable[[int, int], None]


@dataclass
class GetResult:
    """What a C-GET or C-MOVE brought: the files written and the PACS's sub-operation counts."""

    files: list[Path] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    warning: int = 0
    cancelled: bool = False
    status: int | None = None


def storage_contexts() -> list[tuple[str, tuple[str, ...]]]:
    """One context per (SOP class, transfer syntax): the PACS keeps each file's syntax."""
    images = [(sop, (ts,)) for sop in IMAGE_SOP_CLASSES for ts in IMAGE_TRANSFER_SYNTAXES]
    return images + [(sop, (ts,)) for sop in SR_SOP_CLASSES for ts in UNCOMPRESSED]


def check_uid(uid: str, what: str = "Study Instance UID") -> str:
    if not (0 < len(uid) <= 64 and _UID.match(uid)):
        raise PacsError(
            f"{what} {uid!r} は UID ではありません（数字とピリオド、64 文字以内）。",
            f"{what} {uid!r} is not a UID (digits and dots, at most 64 characters).",
        )
    return uid


class Receiver:
    """The C-STORE sub-operations' handler: writes each instance, keeps the first error."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.files: list[Path] = []
        self.error: tuple[Path | None, str] | None = None

    def __call__(self, event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID or "")
        if not (len(uid) <= 64 and _UID.match(uid)):
            self.error = self.error or (None, f"bad SOP Instance UID {uid!r}")
            return 0xC000  # Cannot understand
        path = self.out_dir / f"{uid}.dcm"
        try:
            replace_atomically(path, event.encoded_dataset())
        except OSError as exc:
            self.error = self.error or (path, f"{type(exc).__name__}: {exc}")
            return 0xA700  # Out of resources
        self.files.append(path)
        return 0x0000


def _counts(status: Any, result: GetResult) -> int:
    """Update ``result``'s counts from a C-GET/C-MOVE response; the remaining count (0 if
    absent)."""
    result.completed = int(status.get("NumberOfCompletedSuboperations", result.completed) or 0)
    result.failed = int(status.get("NumberOfFailedSuboperations", result.failed) or 0)
    result.warning = int(status.get("NumberOfWarningSuboperations", result.warning) or 0)
    return int(status.get("NumberOfRemainingSuboperations", 0) or 0)


def prepare_out(out_dir: str | os.PathLike[str]) -> Path:
    """The folder to save into, created; a folder that cannot be made is named."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PacsError(
            f"{out}: 保存先フォルダーを作れません（{exc.strerror or exc}）。",
            f"{out}: cannot create the folder to save into ({exc.strerror or exc}).",
        ) from exc
    return out


@dataclass
class Retrieve:
    """What a C-GET or C-MOVE of one study starts from: the checked query, the folder, the
    result so far (already cancelled when ``cancel`` was set before it began) and the
    handler that writes the instances as they arrive."""

    query: Any
    out: Path
    result: GetResult
    receiver: Receiver

    @classmethod
    def start(
        cls, study_uid: str, out_dir: str | os.PathLike[str], cancel: threading.Event | None
    ) -> Retrieve:
        query, out = study_query(study_uid), prepare_out(out_dir)
        result = GetResult(cancelled=cancel is not None and cancel.is_set())
        return cls(query, out, result, Receiver(out))


def study_query(study_uid: str) -> Any:
    """The STUDY-level retrieve identifier for ``study_uid`` (checked)."""
    from pydicom.dataset import Dataset

    check_uid(study_uid)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    return query


def follow(
    entry: PacsEntry,
    assoc: Any,
    responses: Any,
    model: str,
    op: str,
    result: GetResult,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    """Consume a C-GET/C-MOVE's responses into ``result``: counts, progress, C-CANCEL."""
    context_id = next(
        cx.context_id for cx in assoc.accepted_contexts if cx.abstract_syntax == model
    )
    for status, _identifier in responses:
        code = status.get("Status") if status else None
        if code is None:
            raise no_answer(entry, op)
        remaining = _counts(status, result)
        done = result.completed + result.failed + result.warning
        if progress is not None:
            progress(done, done + remaining)
        if code in (0xFF00, 0xFF01):
            if cancel is not None and cancel.is_set() and not result.cancelled:
                assoc.send_c_cancel(1, context_id)
                result.cancelled = True
            continue
        result.status = code


def check_result(
    entry: PacsEntry, study_uid: str, out: Path, result: GetResult, receiver: Receiver, op: str
) -> GetResult:
    """``result`` with the files written, or :class:`PacsError` for a failed retrieve."""
    table = "move" if op == "C-MOVE" else "get"
    result.files = receiver.files
    if receiver.error is not None:
        path, why = receiver.error
        where = path or out
        raise PacsError(
            f"{where}: 受け取った画像を保存できません（{why}）。",
            f"{where}: cannot save a received instance ({why}).",
        )
    code = result.status
    if code == 0xFE00:
        result.cancelled = True
    elif code is not None and code != 0x0000 and (code & 0xF000) != 0xB000:
        raise PacsRequestError(
            f"PACS {entry.address}: 検査 {study_uid} の取得（{op}）が失敗しました"
            f"（{status_text(code, table)}）。",
            f"PACS {entry.address}: retrieving study {study_uid} ({op}) failed "
            f"({status_text(code, table)}).",
        )
    if not result.files and not result.cancelled:
        raise PacsRequestError(
            f"PACS {entry.address}: 検査 {study_uid} の画像を受け取れませんでした"
            f"（{op}。検査がないか、対応していない種類の画像です。{status_text(code, table)}）。",
            f"PACS {entry.address}: no instance of study {study_uid} arrived ({op}; the PACS "
            f"does not have it, or its instances are of a kind we do not accept; "
            f"{status_text(code, table)}).",
        )
    return result


def get_study(
    entry: PacsEntry,
    study_uid: str,
    out_dir: str | os.PathLike[str],
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> GetResult:
    """C-GET every instance of ``study_uid`` into ``out_dir`` as ``<SOPInstanceUID>.dcm``.

    ``progress(done, total)`` follows the PACS's sub-operation counts; setting ``cancel``
    sends C-CANCEL and returns what had arrived (``cancelled`` true). A study the PACS does not
    have, a failed write or an answer that is a failure raise :class:`PacsError`.
    """
    from pynetdicom import build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

    r = Retrieve.start(study_uid, out_dir, cancel)
    if r.result.cancelled:
        return r.result
    roles = [build_role(sop, scp_role=True) for sop in (*IMAGE_SOP_CLASSES, *SR_SOP_CLASSES)]
    contexts = [(GetModel, UNCOMPRESSED), *storage_contexts()]
    handlers = [(evt.EVT_C_STORE, r.receiver)]
    with associate(entry, contexts, roles=roles, handlers=handlers, step="C-GET") as assoc:
        responses = assoc.send_c_get(r.query, GetModel, msg_id=1)
        follow(entry, assoc, responses, GetModel, "C-GET", r.result, progress, cancel)
    return check_result(entry, study_uid, r.out, r.result, r.receiver, "C-GET")
