"""LoRA / QLoRA instruction tuning for Japanese medical QA (JMedLoRA) and its evaluation on
IgakuQA-format questions.

``iter_train`` runs a YAML config (``jradi-engine lora``): peft LoRA with the loss on the
response only, atomic checkpoints and resume, torch.distributed for several processes, and
the adapter, merged model and GGUF as outputs. ``iter_eval_qa`` answers questions with a GGUF
or HF model (``jradi-engine eval-qa``), ``score_predictions`` scores a predictions file
(``jradi-engine score-qa``). See REFERENCE.md §2-4 and docs/adr/0006-lora.md.
"""

from engine.lora._checkpoint import Checkpoint, latest_checkpoint, list_checkpoints
from engine.lora._config import (
    CONFIG_FILE,
    GGUFSettings,
    LoraSettings,
    LoraTrainConfig,
    load_lora_config,
    parse_lora_config,
)
from engine.lora._dataset import IGNORE_INDEX, BatchPlan, Encoded, collate, encode
from engine.lora._errors import LoraError
from engine.lora._eval import iter_eval_qa, model_spec
from engine.lora._model import qlora_unavailable_reason
from engine.lora._output import merge_adapter, save_adapter
from engine.lora._prompts import (
    PROMPT_FORMATS,
    RESPONSE_MARK,
    PromptFormat,
    instruction_prompt,
    pick_shots,
    question_prompt,
    read_answer,
    render_prompt,
)
from engine.lora._score import read_predictions, score_predictions, score_records
from engine.lora._train import iter_train, train

__all__ = [
    "CONFIG_FILE",
    "IGNORE_INDEX",
    "PROMPT_FORMATS",
    "RESPONSE_MARK",
    "BatchPlan",
    "Checkpoint",
    "Encoded",
    "GGUFSettings",
    "LoraError",
    "LoraSettings",
    "LoraTrainConfig",
    "PromptFormat",
    "collate",
    "encode",
    "instruction_prompt",
    "iter_eval_qa",
    "iter_train",
    "latest_checkpoint",
    "list_checkpoints",
    "load_lora_config",
    "merge_adapter",
    "model_spec",
    "parse_lora_config",
    "pick_shots",
    "qlora_unavailable_reason",
    "question_prompt",
    "read_answer",
    "read_predictions",
    "render_prompt",
    "save_adapter",
    "score_predictions",
    "score_records",
    "train",
]
