"""The choices, defaults and limits of the engine's settings, named once: the engine's
validation (pydantic models, the CLI's ``choices=``) and the wizard's forms both read them.

A choice list is a ``Literal`` (what the engine's models are typed with) and the tuple of its
values (what a form offers). A number setting is a :class:`Limit`: its default and the bounds
the engine accepts; a form may offer less (a spin box needs a maximum) but never more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, get_args

QuantType = Literal["Q8_0", "Q4_K_M"]  # llama.cpp quantisations of an exported GGUF
QUANT_TYPES: tuple[QuantType, ...] = get_args(QuantType)
OutType = Literal["f32", "f16"]  # the precision of an unquantised GGUF
OUT_TYPES: tuple[OutType, ...] = get_args(OutType)
PromptFormat = Literal["alpaca", "medpalm"]  # JMedLoRA's two prompt formats
PROMPT_FORMATS: tuple[PromptFormat, ...] = get_args(PromptFormat)
TargetModules = Literal["qkv", "all-linear"]  # the LoRA targets offered by name
TARGET_MODULES: tuple[TargetModules, ...] = get_args(TargetModules)
Sampler = Literal["cmaes", "tpe", "gp", "random"]  # Optuna samplers of the evolution
SAMPLERS: tuple[Sampler, ...] = get_args(Sampler)

DEVICES = ("auto", "cuda", "cpu")  # what a form offers; a recipe may also name cuda:N
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def device_problem(device: str) -> str | None:
    """Why ``device`` is not a device a job accepts; None when it is."""
    if _DEVICE.match(device):
        return None
    return f"device {device!r} must be auto, cpu, cuda or cuda:N"


N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Limit(Generic[N]):
    """A number setting: its ``default`` and the bounds the engine accepts (``ge``: at
    least, ``gt``: above, ``lt``: below; None: no bound). The names are pydantic's."""

    default: N
    ge: N | None = None
    gt: N | None = None
    lt: N | None = None


# -- LoRA (JMedLoRA's LoRA column, REFERENCE.md §2) ---------------------------------------
LORA_R = Limit(8, ge=1)
LORA_ALPHA = Limit(32, gt=0)
LORA_DROPOUT = Limit(0.05, ge=0, lt=1)
LORA_LEARNING_RATE = Limit(5e-5, gt=0)
LORA_BATCH_SIZE = Limit(8, ge=1)
LORA_MAX_INPUT_LENGTH = Limit(512, ge=8)
LORA_MAX_TARGET_LENGTH = Limit(512, ge=1)
LORA_MAX_STEPS = Limit(1000, ge=1)  # the form's; a config may give epochs instead
LORA_SAVE_EVERY = Limit(100, ge=1)
LORA_TARGET_MODULES: TargetModules = "qkv"
LORA_PROMPT_FORMAT: PromptFormat = "alpaca"

# -- evolution ------------------------------------------------------------------------------
EVOLVE_N_TRIALS = Limit(1000, ge=1)
EVOLVE_MAX_NEW_TOKENS = Limit(256, ge=1)
EVOLVE_BATCH_SIZE = Limit(16, ge=1)
EVOLVE_SAMPLER: Sampler = "cmaes"

# -- QA evaluation --------------------------------------------------------------------------
QA_MAX_NEW_TOKENS = Limit(256, ge=1)
