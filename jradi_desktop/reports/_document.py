"""``ReportDocument``: one report to export, with what it is about and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from jradi_desktop.imaging import PlausibilityNote, XrayImage, plausibility_notes

TITLE_JA = "胸部X線 読影レポート（AI 下書き）"
TITLE_EN = "Chest X-ray report (AI draft)"
AI_NOTICE_JA = "この文書は AI が作成した下書きです。医師が確認・修正の上で使用してください。"
AI_NOTICE_EN = (
    "This document is a draft written by AI. A physician must review and correct it before use."
)
# Before each warning about the image (a PlausibilityNote's ja and en).
WARNING_JA = "【注意】"
WARNING_EN = "Warning: "

# Section headings, in document order: (key, Japanese, English).
SECTIONS = (
    ("indication", "臨床情報", "Clinical information"),
    ("findings", "所見", "Findings"),
    ("impression", "印象", "Impression"),
)
EMPTY_SECTION = "（記載なし）"


@dataclass(frozen=True, kw_only=True)
class ReportDocument:
    """A report and its provenance, as exported to text, Markdown, PDF and DICOM SR.

    The source fields mirror :class:`~jradi_desktop.imaging.XrayImage`; for PNG/JPEG sources
    the DICOM ones stay empty. ``study_date`` is a DICOM DA string (YYYYMMDD).
    ``patient_name`` is a DICOM Person Name (``Yamada^Tarou=山田^太郎=やまだ^たろう``).
    ``verified`` says a physician has checked the AI draft; ``verified_by`` and
    ``verifier_organization`` name them (the DICOM SR is marked VERIFIED only when both are
    given, as DICOM requires). Naive datetimes are taken as local time. ``warnings`` say
    why the image may not be a chest radiograph the model can read; every export shows them
    above the report.
    """

    findings: str = ""
    impression: str = ""
    indication: str = ""
    model_name: str = ""
    generated_at: datetime | None = None
    edited_at: datetime | None = None
    verified: bool = False
    verified_by: str = ""
    verifier_organization: str = ""
    source_path: Path | None = None
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    modality: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    warnings: tuple[PlausibilityNote, ...] = ()

    def __post_init__(self) -> None:
        if self.source_path is not None and not isinstance(self.source_path, Path):
            object.__setattr__(self, "source_path", Path(self.source_path))

    @classmethod
    def from_image(
        cls,
        image: XrayImage,
        *,
        findings: str = "",
        impression: str = "",
        indication: str = "",
        model_name: str = "",
        generated_at: datetime | None = None,
        edited_at: datetime | None = None,
    ) -> ReportDocument:
        """A document about ``image``, with its patient, study and UIDs copied, and the
        :func:`~jradi_desktop.imaging.plausibility_notes` on it."""
        return cls(
            findings=findings,
            impression=impression,
            indication=indication,
            model_name=model_name,
            generated_at=generated_at,
            edited_at=edited_at,
            source_path=image.source,
            warnings=tuple(plausibility_notes(image)),
            **{name: getattr(image, name) for name in _mirrored(cls)},
        )

    @property
    def has_source_instance(self) -> bool:
        """True when the source is a DICOM instance the SR can reference (all UIDs known)."""
        return all(
            (
                self.study_instance_uid,
                self.series_instance_uid,
                self.sop_instance_uid,
                self.sop_class_uid,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """The document as JSON values (for a child process: ``jradi report --send-pdf`` has
        the app's PDF writer draw it); :meth:`from_json` reads it back equal."""
        values: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Path):
                value = str(value)
            elif field.name == "warnings":
                value = [note.to_json() for note in value]
            values[field.name] = value
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ReportDocument:
        """The document :meth:`to_json` wrote."""
        kinds = {"generated_at": datetime.fromisoformat, "edited_at": datetime.fromisoformat,
                 "source_path": Path}  # fmt: skip
        known = {field.name for field in fields(cls)}
        read = {
            name: kinds[name](value) if name in kinds and value is not None else value
            for name, value in values.items()
            if name in known and name != "warnings"
        }
        notes = tuple(PlausibilityNote(**note) for note in values.get("warnings", ()))
        return cls(**read, warnings=notes)

    def section_text(self, key: str) -> str:
        """The stripped text of section ``key`` ("indication", "findings", "impression")."""
        return str(getattr(self, key)).strip()

    def info_rows(self) -> list[tuple[str, str]]:
        """(Japanese label, value) pairs for the patient/study block; empty values left out."""
        rows = [
            ("患者名", display_person_name(self.patient_name)),
            ("患者ID", self.patient_id),
            ("検査日", display_da(self.study_date)),
            ("モダリティ", self.modality),
            ("画像ファイル", self.source_path.name if self.source_path else ""),
            ("モデル", self.model_name),
            ("作成日時", display_datetime(self.generated_at)),
            ("編集日時", display_datetime(self.edited_at)),
            ("確認状態", self.verification_text()),
        ]
        return [(label, value) for label, value in rows if value]

    def verification_text(self) -> str:
        if not self.verified:
            return "未確認（医師による確認前の AI 下書き）"
        return f"医師確認済み（{self.verified_by}）" if self.verified_by else "医師確認済み"


def _mirrored(cls: type[ReportDocument]) -> list[str]:
    """The fields ``cls`` shares with :class:`XrayImage` (patient, study, UIDs): copied as
    they are."""
    image_fields = {f.name for f in fields(XrayImage)}
    return [f.name for f in fields(cls) if f.name in image_fields]


def display_person_name(name: str) -> str:
    """A DICOM Person Name for people: kanji first, then the other forms in parentheses.

    ``Yamada^Tarou=山田^太郎=やまだ^たろう`` -> ``山田 太郎（やまだ たろう / Yamada Tarou）``.
    """
    groups = [" ".join(p for p in group.split("^") if p).strip() for group in name.split("=")]
    groups += [""] * (3 - len(groups))
    alphabetic, ideographic, phonetic = groups[:3]
    primary = ideographic or alphabetic or phonetic
    others = [g for g in (phonetic, alphabetic) if g and g != primary]
    return f"{primary}（{' / '.join(others)}）" if others else primary


def display_da(value: str) -> str:
    """DICOM DA ``20240401`` -> ``2024-04-01``; anything else unchanged."""
    value = value.strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def display_datetime(value: datetime | None) -> str:
    """Local ``YYYY-MM-DD HH:MM``, or "" for None (naive datetimes are local already)."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M")
