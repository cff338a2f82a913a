"""The merge subsystem's exception: bad recipes, unreadable folders, mismatched models."""

from engine.errors import EngineError


class MergeError(EngineError):
    """A merge that cannot run as asked; the message names the file or tensor and the fix."""
