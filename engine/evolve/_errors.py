"""Errors raised by the evolution package."""

from __future__ import annotations

from engine.errors import EngineError


class EvolveError(EngineError):
    """An evolution run that cannot start or go on; the message says why and what to do."""
