"""The LoRA subsystem's exception: bad configs, unusable data or models, unmet requirements."""

from engine.errors import EngineError


class LoraError(EngineError):
    """A LoRA job or QA evaluation that cannot run as asked; the message says why and the fix."""
