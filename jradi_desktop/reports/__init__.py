"""Report export: a :class:`ReportDocument` to plain text, Markdown, DICOM Basic Text SR, and
its PDF (written by the app) to DICOM Encapsulated PDF.

No Qt here; the PDF writer (which needs Qt's font engine) is ``jradi_desktop.ui.pdf_export``.
Every writer is atomic and verified (the temporary file is read back before it replaces the
target) and raises :class:`ReportExportError` naming the file and the reason.
"""

from jradi_desktop.reports._atomic import atomic_write, write_bytes_atomic
from jradi_desktop.reports._dicom_pdf import (
    ENCAPSULATED_PDF,
    build_encapsulated_pdf,
    write_encapsulated_pdf,
)
from jradi_desktop.reports._dicom_sr import BASIC_TEXT_SR, build_dicom_sr, write_dicom_sr
from jradi_desktop.reports._document import (
    AI_NOTICE_EN,
    AI_NOTICE_JA,
    EMPTY_SECTION,
    SECTIONS,
    TITLE_EN,
    TITLE_JA,
    WARNING_EN,
    WARNING_JA,
    ReportDocument,
    display_da,
    display_datetime,
    display_person_name,
)
from jradi_desktop.reports._errors import IncompleteFileError, ReportExportError, incomplete_file
from jradi_desktop.reports._text import to_markdown, to_text, write_markdown, write_text

__all__ = [
    "AI_NOTICE_EN",
    "AI_NOTICE_JA",
    "BASIC_TEXT_SR",
    "EMPTY_SECTION",
    "ENCAPSULATED_PDF",
    "SECTIONS",
    "TITLE_EN",
    "TITLE_JA",
    "WARNING_EN",
    "WARNING_JA",
    "IncompleteFileError",
    "ReportDocument",
    "ReportExportError",
    "atomic_write",
    "build_dicom_sr",
    "build_encapsulated_pdf",
    "display_da",
    "display_datetime",
    "display_person_name",
    "incomplete_file",
    "to_markdown",
    "to_text",
    "write_bytes_atomic",
    "write_dicom_sr",
    "write_encapsulated_pdf",
    "write_markdown",
    "write_text",
]
