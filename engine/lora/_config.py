"""The LoRA training config: a pydantic model read from YAML, checked as a whole.

.. code-block:: yaml

    base_model: models/Llama-3-Swallow-8B        # a HF folder; paths are relative to this file
    data: [data/med_instructions.jsonl]          # instruction JSONL files or folders
    strict_data: false                           # true: stop at the first bad data line
                                                 # (false: skip it, with a warning naming it)
    prompt_format: alpaca                        # alpaca | medpalm (engine/lora/_prompts.py)
    template: chat                               # chat: the tokenizer's chat template (what
                                                 # eval-qa and the app send); raw: the paper's
    lora: {r: 8, alpha: 32, dropout: 0.05, target_modules: qkv}   # qkv | all-linear | [names]
    quantization: none                           # none | 4bit (QLoRA: CUDA + bitsandbytes)
    max_input_length: 512
    max_target_length: 512
    learning_rate: 5.0e-5
    max_steps: 1000                              # or epochs: 3 (exactly one of the two)
    batch_size: 8                                # per process and micro-step
    gradient_accumulation_steps: 1
    save_every: 100                              # checkpoint every N optimizer steps
    merge: true                                  # also write the merged model (HF folder)
    gguf: {outtype: f16, quantize: Q4_K_M}       # and its GGUF (needs merge)

The defaults are JMedLoRA's LoRA column (REFERENCE.md §2); the 70B QLoRA column is
``quantization: 4bit``, ``learning_rate: 2e-4``, ``lora: {r: 64, alpha: 16, dropout: 0.1,
target_modules: all-linear}``. Every cross-field rule is checked in one
``model_validator(mode="after")`` that lists all problems in one ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine._yaml_config import limited, read_yaml_mapping, validate
from engine.lora._errors import LoraError
from jradi_desktop import contract
from jradi_desktop.contract import OutType, PromptFormat, QuantType, TargetModules, device_problem

CONFIG_FILE = "lora_config.yaml"
QKV = ("q_proj", "k_proj", "v_proj")


class LoraSettings(BaseModel):
    """The adapter: rank, scaling, dropout and the modules it attaches to."""

    model_config = ConfigDict(extra="forbid")

    r: int = limited(contract.LORA_R)
    alpha: float = limited(contract.LORA_ALPHA)
    dropout: float = limited(contract.LORA_DROPOUT)
    target_modules: TargetModules | list[str] = contract.LORA_TARGET_MODULES

    def peft_targets(self) -> list[str] | str:
        """What peft's ``LoraConfig(target_modules=...)`` takes."""
        if self.target_modules == "qkv":
            return list(QKV)
        return self.target_modules


class GGUFSettings(BaseModel):
    """The GGUF export of the merged model (``engine.export.export_gguf``)."""

    model_config = ConfigDict(extra="forbid")

    outtype: OutType = "f16"
    quantize: QuantType | None = None


class LoraTrainConfig(BaseModel):
    """One LoRA / QLoRA training run."""

    model_config = ConfigDict(extra="forbid")

    base_model: Path
    data: list[Path] = Field(min_length=1)
    strict_data: bool = False
    prompt_format: PromptFormat = contract.LORA_PROMPT_FORMAT
    template: Literal["chat", "raw"] = "chat"
    lora: LoraSettings = Field(default_factory=LoraSettings)
    quantization: Literal["none", "4bit"] = "none"
    max_input_length: int = limited(contract.LORA_MAX_INPUT_LENGTH)
    max_target_length: int = limited(contract.LORA_MAX_TARGET_LENGTH)
    learning_rate: float = limited(contract.LORA_LEARNING_RATE)
    lr_scheduler: Literal["linear", "constant", "cosine"] = "linear"
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    gradient_checkpointing: bool = False
    max_steps: int | None = Field(None, ge=contract.LORA_MAX_STEPS.ge)
    epochs: float | None = Field(None, gt=0)
    batch_size: int = limited(contract.LORA_BATCH_SIZE)
    gradient_accumulation_steps: int = Field(1, ge=1)
    save_every: int = limited(contract.LORA_SAVE_EVERY)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(1, ge=1)
    seed: int = 42
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    merge: bool = False
    gguf: GGUFSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_data_path(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("data"), str | Path):
            return {**value, "data": [value["data"]]}
        return value

    @model_validator(mode="after")
    def _check(self) -> LoraTrainConfig:
        problems: list[str] = []
        if (self.max_steps is None) == (self.epochs is None):
            problems.append(
                "give exactly one of max_steps (optimizer steps) and epochs (passes over the "
                f"data); got max_steps={self.max_steps}, epochs={self.epochs}"
            )
        if self.gguf is not None and not self.merge:
            problems.append(
                "gguf: the GGUF is exported from the merged model; set merge: true as well"
            )
        if device := device_problem(self.device):
            problems.append(device)
        if self.quantization == "4bit" and self.device == "cpu":
            problems.append(
                "quantization: 4bit (QLoRA) runs on a CUDA GPU through bitsandbytes; "
                "use device: auto or cuda, or quantization: none on the CPU"
            )
        if self.quantization == "4bit" and self.dtype == "float32":
            problems.append(
                "quantization: 4bit computes in bfloat16 or float16; dtype: float32 does not "
                "apply (use auto)"
            )
        targets = self.lora.target_modules
        if isinstance(targets, list) and (not targets or not all(t.strip() for t in targets)):
            problems.append(
                "lora.target_modules: a list must name at least one module (e.g. q_proj)"
            )
        if self.warmup_steps and self.max_steps and self.warmup_steps >= self.max_steps:
            problems.append(
                f"warmup_steps ({self.warmup_steps}) must be fewer than max_steps "
                f"({self.max_steps})"
            )
        if problems:
            raise ValueError(
                f"the LoRA config has {len(problems)} problem(s):\n- " + "\n- ".join(problems)
            )
        return self

    def resolved(self, root: str | Path) -> LoraTrainConfig:
        """A copy whose relative paths are taken from ``root`` (the YAML file's folder)."""
        root = Path(root)

        def fix(path: Path) -> Path:
            path = path.expanduser()
            return (path if path.is_absolute() else root / path).resolve()

        return self.model_copy(
            update={"base_model": fix(self.base_model), "data": [fix(p) for p in self.data]}
        )

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), allow_unicode=True, sort_keys=False)


def load_lora_config(path: str | Path) -> LoraTrainConfig:
    """Read a YAML config; relative paths in it are relative to the file's folder."""
    path = Path(path)
    data = read_yaml_mapping(path, LoraError, "LoRA config", "base_model:, data:, ...")
    return parse_lora_config(data, where=str(path)).resolved(path.parent)


def parse_lora_config(data: dict[str, Any], where: str = "config") -> LoraTrainConfig:
    """Validate a config mapping; all problems in one :class:`LoraError`."""
    return validate(LoraTrainConfig, data, LoraError, where, "LoRA config")
