"""The hospital PACS over DICOM DIMSE (pynetdicom): entries, C-ECHO, C-FIND, C-GET, C-MOVE,
C-STORE, and the cache of retrieved studies.

Qt-free and torch-free. The entries live in the data folder's ``pacs.json``; every network
call has bounded timeouts (connection, ACSE, DIMSE, network) and fails with a
:class:`PacsError` naming the PACS or the file and the reason.
"""

from jradi_desktop.pacs._cache import (
    DEFAULT_CACHE_LIMIT,
    CachedStudy,
    StudyCache,
    default_cache_path,
)
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
from jradi_desktop.pacs._move import DEFAULT_MOVE_PORT, move_study
from jradi_desktop.pacs._report import send_report
from jradi_desktop.pacs._services import SendResult, StudyMatch, echo, find_studies, send

__all__ = [
    "DEFAULT_CACHE_LIMIT",
    "DEFAULT_MOVE_PORT",
    "DEFAULT_OUR_AET",
    "DEFAULT_TIMEOUT_S",
    "CachedStudy",
    "GetResult",
    "PacsConnectionError",
    "PacsEntry",
    "PacsEntryError",
    "PacsError",
    "PacsRegistry",
    "PacsRequestError",
    "SendResult",
    "StudyCache",
    "StudyMatch",
    "default_cache_path",
    "default_pacs_path",
    "echo",
    "find_studies",
    "get_study",
    "move_study",
    "send",
    "send_report",
]
