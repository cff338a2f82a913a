"""Loaded by every Python started with this folder on ``PYTHONPATH`` (the worker's children in
``test_report_progress.py``): each crop through the S² vision trunk takes
``JRADI_TEST_CROP_SECONDS`` longer, as a real-size SigLIP crop takes seconds on a CPU."""

import os
import time


def _install() -> None:
    from jradi_desktop.architectures.bunny_s2 import S2VisionEncoder

    original = S2VisionEncoder._trunk
    delay = float(os.environ["JRADI_TEST_CROP_SECONDS"])

    def trunk(self, crops):
        time.sleep(delay)
        return original(self, crops)

    S2VisionEncoder._trunk = trunk


if os.environ.get("JRADI_TEST_CROP_SECONDS"):
    _install()
