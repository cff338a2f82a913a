"""The files an engine job leaves in its workspace, where the wizard finds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jradi_desktop.contract._events import Payload
from jradi_desktop.contract._folders import MODEL_GGUF, find_mmproj

# evolve
RECIPE_FILE = "recipe.yaml"  # the resolved recipe the engine ran
STUDY_DB = "study.sqlite3"  # the default (SQLite) study
STUDY_NAME = "jradievo"
TRIALS_DIR = "trials"
BEST_DIR = "best"
BEST_MODEL_DIR, BEST_GGUF_DIR, BEST_JSON = "model", "gguf", "best.json"
# LoRA
LORA_RESULT = "result.json"
ADAPTER_DIR, MERGED_DIR, GGUF_DIR = "adapter", "merged", "gguf"


def trial_texts(workspace: Path, trial: int) -> Path:
    """A trial's generated reports beside their references (one ``TrialText`` a line)."""
    return workspace / TRIALS_DIR / f"{trial:05d}.jsonl"


@dataclass(frozen=True)
class TrialText(Payload):
    """One line of :func:`trial_texts`: a dev image, its reference findings, the report the
    trial's model wrote and its ROUGE-L."""

    trial: int
    index: int
    image: str
    reference: str
    prediction: str
    rouge_l: float | None = None


@dataclass(frozen=True)
class BestFiles(Payload):
    """The exported best model of an evolution: its HF folder and GGUF pair (when written)."""

    model_dir: str
    gguf: str | None
    mmproj: str | None

    @classmethod
    def of(cls, best: Path) -> BestFiles:
        """The files under ``best`` (``WORKSPACE/best`` or a staging folder)."""
        model = best / BEST_GGUF_DIR / MODEL_GGUF
        if not model.is_file():
            return cls(str(best / BEST_MODEL_DIR), None, None)
        mmproj = find_mmproj(model)  # mmproj.gguf, or a Bunny's vision/
        return cls(str(best / BEST_MODEL_DIR), str(model), str(mmproj) if mmproj else None)
