"""Offline by construction: switch every library we ship to local files and no telemetry.

Called from the package's ``__init__`` so that any entry point (GUI, ``jradi``,
``jradi-engine``, a worker process, the frozen app through its runtime hook) sets the
switches before transformers, huggingface_hub or ONNX Runtime is imported: they read them
once, when they load, and child processes inherit them.
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
    # ONNX Runtime (Bunny's S² encoder) otherwise sends usage telemetry on Linux from a native
    # thread (DNS lookups of its collector) and writes a device ID under ~/.cache/Microsoft.
    # DO_NOT_TRACK and onnxruntime.disable_telemetry_events() do not stop it; this does, if
    # set before the library loads (tests/test_no_egress.py checks with strace).
    "ORT_DISABLE_TELEMETRY": "1",
}


def enforce_offline() -> None:
    """Set the offline switches (overriding any value the environment had)."""
    os.environ.update(OFFLINE_ENV)
