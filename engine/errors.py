"""The engine's exception family: the CLI and the wizard catch ``EngineError`` and show it."""


class EngineError(Exception):
    """A problem with the user's input or files, with a message that says what and how to fix."""


class ExportError(EngineError):
    """A model folder that cannot be exported to GGUF."""
