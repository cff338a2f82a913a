"""Offline by construction: switch every Hugging Face library to local files only.

Called from the package's ``__init__`` so that any entry point (GUI, ``jradi``,
``jradi-engine``, a worker process) sets the switches before transformers or
huggingface_hub is imported: they read them once, at import time.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    # transformers otherwise probes for optional kernels from the hub.
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
}


def enforce_offline() -> None:
    """Set the offline switches (overriding any value the environment had)."""
    os.environ.update(OFFLINE_ENV)
