"""LoRA / QLoRA instruction tuning for Japanese medical QA (JMedLoRA) and its evaluation on
IgakuQA-format questions.

``iter_train`` runs a YAML config (``jradi-engine lora``): peft LoRA with the loss on the
response only, atomic checkpoints and resume, torch.distributed for several processes, and
the adapter, merged model and GGUF as outputs. ``iter_eval_qa`` answers questions with a GGUF
or HF model (``jradi-engine eval-qa``), ``score_predictions`` scores a predictions file
(``jradi-engine score-qa``). See REFERENCE.md §2-4 and docs/adr/0006-lora.md.
"""

from engine.lora._config import LoraTrainConfig, load_lora_config, parse_lora_config
from engine.lora._errors import LoraError
from engine.lora._eval import iter_eval_qa
from engine.lora._score import score_predictions
from engine.lora._train import iter_train, train

__all__ = [
    "LoraError",
    "LoraTrainConfig",
    "iter_eval_qa",
    "iter_train",
    "load_lora_config",
    "parse_lora_config",
    "score_predictions",
    "train",
]
