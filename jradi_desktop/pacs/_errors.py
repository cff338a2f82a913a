"""The PACS errors: every failure names the PACS (name, host:port) or the file, and the reason."""

from __future__ import annotations

from jradi_desktop.errors import JRadiError


class PacsError(JRadiError):
    """Base of the PACS errors: a bad entry, an unreachable PACS, a refused request."""


class PacsEntryError(PacsError):
    """A PACS entry that cannot be stored or used (bad port, AE title, TLS files, ``pacs.json``)."""


class PacsConnectionError(PacsError):
    """The PACS could not be reached, refused the association, or broke it off."""


class PacsRequestError(PacsError):
    """The PACS answered a request (C-FIND, C-GET, C-STORE) with a failure."""
