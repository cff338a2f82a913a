"""A report back to the PACS: its DICOM Basic Text SR, filed in the source image's study."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._errors import PacsError, PacsRequestError
from jradi_desktop.pacs._services import SendResult, send

if TYPE_CHECKING:
    from jradi_desktop.reports import ReportDocument


def send_report_sr(
    entry: PacsEntry, document: ReportDocument, path: str | os.PathLike[str]
) -> SendResult:
    """Write ``document``'s SR to ``path`` and C-STORE it to ``entry``.

    The SR references the source instance (study, series, SOP UIDs), so the PACS files it in
    the image's study; a document without a DICOM source is refused before anything is sent.
    Raises :class:`PacsError` when the SR is not stored.
    """
    from jradi_desktop.reports import write_dicom_sr

    source = document.source_path.name if document.source_path else "-"
    if not document.has_source_instance:
        raise PacsError(
            f"{source}: DICOM 画像ではないため、レポートを PACS の検査に登録できません。",
            f"{source}: not a DICOM image, so the report has no PACS study to be filed in.",
        )
    written = write_dicom_sr(document, Path(path))
    [result] = send(entry, [written])
    if not result.ok:
        raise PacsRequestError(
            f"PACS {entry.address}: レポート（DICOM SR）を送信できません：{result.message_ja}",
            f"PACS {entry.address}: the report (DICOM SR) was not stored: {result.message_en}",
        )
    return result
