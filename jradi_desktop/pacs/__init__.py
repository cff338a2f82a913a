"""The hospital PACS over DICOM DIMSE (pynetdicom): entries, C-ECHO, C-FIND, C-GET, C-STORE.

Qt-free and torch-free. The entries live in the data folder's ``pacs.json``; every network
call has bounded timeouts (connection, ACSE, DIMSE, network) and fails with a
:class:`PacsError` naming the PACS or the file and the reason.
"""

from jradi_desktop.pacs._entries import (
    DEFAULT_OUR_AET,
    DEFAULT_TIMEOUT_S,
    PacsEntry,
    PacsRegistry,
    default_pacs_path,
)
from jradi_desktop.pacs._errors import (
    PacsConnectionError,
    PacsEntryError,
    PacsError,
    PacsRequestError,
)
from jradi_desktop.pacs._get import GetResult, get_study
from jradi_desktop.pacs._services import SendResult, StudyMatch, echo, find_studies, send

__all__ = [
    "DEFAULT_OUR_AET",
    "DEFAULT_TIMEOUT_S",
    "GetResult",
    "PacsConnectionError",
    "PacsEntry",
    "PacsEntryError",
    "PacsError",
    "PacsRegistry",
    "PacsRequestError",
    "SendResult",
    "StudyMatch",
    "default_pacs_path",
    "echo",
    "find_studies",
    "get_study",
    "send",
]
