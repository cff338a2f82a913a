"""C-ECHO, C-FIND (Study Root, STUDY level) and C-STORE with a PACS entry."""

from __future__ import annotations

import datetime
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jradi_desktop.pacs._association import associate
from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._errors import PacsConnectionError, PacsError, PacsRequestError

UNCOMPRESSED = (
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
)
_DATE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
_MAX_CONTEXTS = 120  # pynetdicom (and PS3.8) allow 128 presentation contexts per association


def status_text(code: int | None, table: str = "storage") -> str:
    """``0xA700 (Failure: Refused: Out of resources)``: a status code with its meaning."""
    if code is None:
        return "no status"
    from pynetdicom import status as st

    tables = {
        "storage": st.STORAGE_SERVICE_CLASS_STATUS,
        "find": st.QR_FIND_SERVICE_CLASS_STATUS,
        "get": st.QR_GET_SERVICE_CLASS_STATUS,
        "move": st.QR_MOVE_SERVICE_CLASS_STATUS,
    }
    found = {**st.GENERAL_STATUS, **tables[table]}.get(code)
    meaning = (f"{found[0]}: {found[1]}" if found[1] else found[0]) if found else None
    meaning = meaning or st.code_to_category(code)
    return f"0x{code:04X} ({meaning})"


def no_answer(entry: PacsEntry, what: str) -> PacsConnectionError:
    """The PACS went silent or broke the association off during ``what``."""
    return PacsConnectionError(
        f"PACS {entry.address}: {what} に {entry.timeout:.0f} 秒以内の応答がないか、接続が"
        f"切断されました（PACS が自分の AE タイトル {entry.our_aet} に {what} を許可しているか"
        "確認してください）。",
        f"PACS {entry.address}: {what} got no answer within {entry.timeout:.0f} s, or the "
        f"association was broken off (check that the PACS allows our AE title {entry.our_aet} "
        f"to use {what}).",
    )


def echo(entry: PacsEntry) -> None:
    """C-ECHO ``entry``: returns when it answers, else raises :class:`PacsError` with why."""
    from pynetdicom.sop_class import Verification

    with associate(entry, [(Verification, UNCOMPRESSED)], step="C-ECHO") as assoc:
        status = assoc.send_c_echo()
    code = status.get("Status") if status else None
    if code is None:
        raise no_answer(entry, "C-ECHO")
    if code != 0x0000:
        raise PacsRequestError(
            f"PACS {entry.address}: C-ECHO が失敗しました（{status_text(code, 'find')}）。",
            f"PACS {entry.address}: C-ECHO failed ({status_text(code, 'find')}).",
        )


@dataclass(frozen=True)
class StudyMatch:
    """One study the PACS reported for a C-FIND (names decoded with its character set)."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    accession: str = ""
    modalities: tuple[str, ...] = ()
    description: str = ""
    series: int | None = None
    instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The study under DICOM keywords."""
        return {
            "StudyInstanceUID": self.study_uid,
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "StudyDate": self.study_date,
            "AccessionNumber": self.accession,
            "ModalitiesInStudy": list(self.modalities),
            "StudyDescription": self.description,
            "NumberOfStudyRelatedSeries": self.series,
            "NumberOfStudyRelatedInstances": self.instances,
        }


def check_date(date: str) -> str:
    """``YYYYMMDD`` or a range ``YYYYMMDD-YYYYMMDD`` (either end may be open), checked."""
    match = _DATE.match(date)
    ok = bool(match) and date not in ("", "-")
    for day in (match.group(1), match.group(3)) if match else ():
        try:
            if day:
                datetime.datetime.strptime(day, "%Y%m%d")
        except ValueError:
            ok = False
    if not ok:
        raise PacsError(
            f"日付 {date!r} は YYYYMMDD または YYYYMMDD-YYYYMMDD で指定してください。",
            f"date {date!r} must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD.",
        )
    return date


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _match(identifier: Any) -> StudyMatch:
    def text(keyword: str) -> str:
        value = identifier.get(keyword)
        return "" if value is None else str(value).strip()

    modalities = identifier.get("ModalitiesInStudy") or ()
    if isinstance(modalities, str):
        modalities = (modalities,)
    return StudyMatch(
        study_uid=text("StudyInstanceUID"),
        patient_id=text("PatientID"),
        patient_name=text("PatientName"),  # a PersonName, decoded with the answer's charset
        study_date=text("StudyDate"),
        accession=text("AccessionNumber"),
        modalities=tuple(str(m) for m in modalities if m),
        description=text("StudyDescription"),
        series=_int(identifier.get("NumberOfStudyRelatedSeries")),
        instances=_int(identifier.get("NumberOfStudyRelatedInstances")),
    )


def find_studies(
    entry: PacsEntry,
    patient_id: str | None = None,
    accession: str | None = None,
    date: str | None = None,
    modalities: Sequence[str] | None = ("CR", "DX"),
) -> list[StudyMatch]:
    """C-FIND (Study Root, STUDY level): the studies matching every given key."""
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    for keyword in ("StudyInstanceUID", "PatientName", "StudyTime", "StudyDescription",
                    "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"):  # fmt: skip
        setattr(query, keyword, "")
    query.PatientID = patient_id or ""
    query.AccessionNumber = accession or ""
    query.StudyDate = check_date(date) if date else ""
    query.ModalitiesInStudy = list(modalities) if modalities else ""
    if any(not str(v).isascii() for v in (patient_id or "", accession or "")):
        query.SpecificCharacterSet = "ISO_IR 192"
    found: list[StudyMatch] = []
    with (
        associate(entry, [(FindModel, UNCOMPRESSED)], step="C-FIND") as assoc,
        warnings.catch_warnings(),
    ):
        # pydicom warns on a name the PACS itself mangled (Orthanc 1.10 with ISO 2022
        # code extensions); it is shown as the PACS has it, the warning is noise to the user.
        warnings.simplefilter("ignore", UserWarning)
        for status, identifier in assoc.send_c_find(query, FindModel):
            code = status.get("Status") if status else None
            if code is None:
                raise no_answer(entry, "C-FIND")
            if code in (0xFF00, 0xFF01):
                if identifier is not None:
                    found.append(_match(identifier))
            elif code != 0x0000:
                raise PacsRequestError(
                    f"PACS {entry.address}: 検索（C-FIND）が失敗しました"
                    f"（{status_text(code, 'find')}）。",
                    f"PACS {entry.address}: the search (C-FIND) failed "
                    f"({status_text(code, 'find')}).",
                )
    return found


@dataclass(frozen=True)
class SendResult:
    """The PACS's answer to one file's C-STORE."""

    path: Path
    ok: bool
    status: int | None
    message_ja: str = ""
    message_en: str = ""

    def message(self, language: str = "ja") -> str:
        return self.message_ja if language.lower().startswith("ja") else self.message_en


def _failed(path: Path, status: int | None, ja: str, en: str) -> SendResult:
    return SendResult(path, False, status, f"{path}: {ja}", f"{path}: {en}")


def _meta(path: Path) -> tuple[str, str] | SendResult:
    """(SOP class, transfer syntax) from the file meta, or the failure naming the file."""
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_file_meta_info

    try:
        meta = read_file_meta_info(path)
        return str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID)
    except (OSError, InvalidDicomError, AttributeError, ValueError, EOFError) as exc:
        return _failed(
            path, None, f"DICOM ファイルとして読めません（{exc}）",
            f"cannot be read as a DICOM file ({type(exc).__name__}: {exc})",
        )  # fmt: skip


def _store(entry: PacsEntry, assoc: Any, path: Path) -> SendResult:
    try:
        status = assoc.send_c_store(path)
    except (ValueError, AttributeError, OSError) as exc:  # no accepted context, unreadable
        return _failed(
            path, None, f"送信できません（{exc}）", f"cannot be sent ({exc})"
        )  # fmt: skip
    code = status.get("Status") if status else None
    if code is None:
        error = no_answer(entry, "C-STORE")
        return _failed(path, None, error.message_ja, error.message_en)
    text = status_text(code)
    if code == 0x0000 or (code & 0xF000) == 0xB000:
        return SendResult(
            path, True, code, f"{path}: 送信しました（{text}）", f"{path}: sent ({text})"
        )
    return _failed(
        path, code, f"PACS {entry.address} が保存を拒否しました（{text}）",
        f"PACS {entry.address} refused to store it ({text})",
    )  # fmt: skip


def send(entry: PacsEntry, files: Iterable[str | os.PathLike[str]]) -> list[SendResult]:
    """C-STORE each DICOM file as it is (not decoded, not transcoded); one result per file.

    Raises :class:`PacsError` only when no association can be set up at all.
    """
    results: dict[Path, SendResult] = {}
    contexts: dict[Path, tuple[str, str]] = {}
    paths = list(dict.fromkeys(Path(name) for name in files))
    for path in paths:
        meta = _meta(path)
        if isinstance(meta, SendResult):
            results[path] = meta
        else:
            contexts[path] = meta
    pairs = sorted(set(contexts.values()))
    for start in range(0, len(pairs), _MAX_CONTEXTS):
        batch = set(pairs[start : start + _MAX_CONTEXTS])
        with associate(entry, [(sop, (ts,)) for sop, ts in sorted(batch)], step="C-STORE") as assoc:
            for path, pair in contexts.items():
                if pair in batch:
                    results[path] = _store(entry, assoc, path)
    return [results[path] for path in paths]
