"""Errors raised by the metrics package."""

from __future__ import annotations


class MetricsInputError(ValueError):
    """Input to an evaluation is unusable: the message names the file, the row and the reason."""
