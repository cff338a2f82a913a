"""Loaded by every Python started with this folder on ``PYTHONPATH`` (the worker's children in
``test_inference_worker.py``): a GGUF request whose text holds ``CRASH_ON_THIS`` dies with a
real SIGSEGV in the child, as a native fault in llama.cpp would, after noting the attempt in
the file named by ``JRADI_TEST_CRASH_COUNT``."""

import os


def _install() -> None:
    from jradi_desktop.inference import _gguf

    original = _gguf.GGUFBackend._generate

    def generate(self, messages, images, params):
        if "CRASH_ON_THIS" in repr(messages):
            with open(os.environ["JRADI_TEST_CRASH_COUNT"], "a") as count:
                count.write("crash\n")
            import ctypes

            ctypes.string_at(0)  # reads address 0: SIGSEGV
        return original(self, messages, images, params)

    _gguf.GGUFBackend._generate = generate


if os.environ.get("JRADI_TEST_CRASH_COUNT"):
    _install()
