"""Errors raised by the data package."""

from __future__ import annotations

from engine.errors import EngineError


class DataError(EngineError):
    """A data file that cannot be used: the message names the file, the row and the reason."""
