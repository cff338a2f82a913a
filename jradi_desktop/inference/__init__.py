"""Inference runtime: backends (llama-cpp-python for GGUF, transformers for full precision),
the worker process the GUI talks to, prompts and reading the replies.

Importing this package is cheap: llama_cpp, torch and transformers load only with a model.
"""

import logging

from jradi_desktop.architectures.bunny_s2 import BUNNY_CHAT_TEMPLATE
from jradi_desktop.architectures.llama import LLAMA3_CHAT_TEMPLATE
from jradi_desktop.inference._backend import (
    ENCODE,
    PREFILL,
    Backend,
    GenerationParams,
    Progress,
    backend_names,
    create_backend,
    get_backend,
    register_backend,
)
from jradi_desktop.inference._choices import parse_answer_letters
from jradi_desktop.inference._devices import best_device, torch_dtype
from jradi_desktop.inference._errors import (
    BackendUnavailableError,
    GenerationError,
    InferenceError,
    InvalidRequestError,
    ModelFileNotFoundError,
    ModelLoadError,
    PromptTooLongError,
    UnknownBackendError,
    VisionNotSupportedError,
    WorkerCrashedError,
)
from jradi_desktop.inference._images import to_pil
from jradi_desktop.inference._llama_runtime import CpuBackend, ensure_cpu_backend, load_llama
from jradi_desktop.inference._prompts import (
    QA_SYSTEM_PROMPT,
    REPORT_PROMPT,
    ChoiceAnswer,
    ReportSections,
    build_chat_messages,
    build_choice_messages,
    build_report_messages,
    parse_choice_answer,
    report_prompt,
    split_report,
)
from jradi_desktop.inference._worker import InferenceWorker

# Library logging (llama.cpp's log included) reaches no terminal unless the app configures it.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BUNNY_CHAT_TEMPLATE",
    "ENCODE",
    "LLAMA3_CHAT_TEMPLATE",
    "PREFILL",
    "QA_SYSTEM_PROMPT",
    "REPORT_PROMPT",
    "Backend",
    "BackendUnavailableError",
    "ChoiceAnswer",
    "CpuBackend",
    "GenerationError",
    "GenerationParams",
    "InferenceError",
    "InferenceWorker",
    "InvalidRequestError",
    "ModelFileNotFoundError",
    "ModelLoadError",
    "Progress",
    "PromptTooLongError",
    "ReportSections",
    "UnknownBackendError",
    "VisionNotSupportedError",
    "WorkerCrashedError",
    "backend_names",
    "best_device",
    "build_chat_messages",
    "build_choice_messages",
    "build_report_messages",
    "create_backend",
    "ensure_cpu_backend",
    "get_backend",
    "load_llama",
    "parse_answer_letters",
    "parse_choice_answer",
    "register_backend",
    "report_prompt",
    "split_report",
    "to_pil",
    "torch_dtype",
]
