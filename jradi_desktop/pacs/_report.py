"""A report back to the PACS: its DICOM Basic Text SR and, if asked, its PDF as DICOM
Encapsulated PDF, filed in the source image's study in one association."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._errors import PacsError, PacsRequestError
from jradi_desktop.pacs._services import SendResult, send

if TYPE_CHECKING:
    from jradi_desktop.reports import ReportDocument

SR_FILE = "report-sr.dcm"
PDF_FILE = "report-pdf.dcm"
# What each object is called in a failure (Japanese, English).
_SR = ("レポート（DICOM SR）", "the report (DICOM SR)")
_PDF = ("レポートの PDF（Encapsulated PDF）", "the report's PDF (Encapsulated PDF)")


def send_report(
    entry: PacsEntry,
    document: ReportDocument,
    folder: str | os.PathLike[str],
    pdf: str | os.PathLike[str] | None = None,
) -> list[SendResult]:
    """Write ``document``'s SR (and, given the report's ``pdf``, an Encapsulated PDF of it)
    into ``folder`` and C-STORE them to ``entry`` together; one result per object, SR first.

    Both reference the source image's study (the SR also its series and SOP instance), so the
    PACS files them with the image; a document without a DICOM source is refused before
    anything is written or sent. Raises :class:`PacsError` when any object is not stored,
    naming which (the SR, the PDF) and whether the other one was.
    """
    from jradi_desktop.reports import write_dicom_sr, write_encapsulated_pdf

    source = document.source_path.name if document.source_path else "-"
    if not document.has_source_instance:
        raise PacsError(
            f"{source}: DICOM 画像ではないため、レポートを PACS の検査に登録できません。",
            f"{source}: not a DICOM image, so the report has no PACS study to be filed in.",
        )
    out = Path(folder)
    names = {write_dicom_sr(document, out / SR_FILE): _SR}
    if pdf is not None:
        names[write_encapsulated_pdf(document, pdf, out / PDF_FILE)] = _PDF
    results = send(entry, list(names))
    failed = [r for r in results if not r.ok]
    if failed:
        stored = [names[r.path] for r in results if r.ok]
        raise PacsRequestError(
            f"PACS {entry.address}: "
            + "".join(f"{names[r.path][0]}を送信できません：{r.message_ja}。" for r in failed)
            + "".join(f"{ja}は保存されました。" for ja, _ in stored),
            f"PACS {entry.address}: "
            + "; ".join(f"{names[r.path][1]} was not stored: {r.message_en}" for r in failed)
            + "".join(f". {en[0].upper()}{en[1:]} was stored" for _, en in stored) + ".",
        )  # fmt: skip
    return results
