"""The tuning wizard: JRadiEvo's evolutionary merge search and JMedLoRA's LoRA tuning, run as
engine child processes (``jradi-engine … --events jsonl``), watched, stopped, resumed, and
their result put into use. The GUI process never imports torch, transformers or Optuna."""

from jradi_desktop.ui.engine_command import engine_arguments, engine_command
from jradi_desktop.ui.tuning._evolve_page import EvolvePage
from jradi_desktop.ui.tuning._jobs import JobPage, Step
from jradi_desktop.ui.tuning._lora_page import LoraPage
from jradi_desktop.ui.tuning._plot import ScorePlot
from jradi_desktop.ui.tuning._process import EngineJob
from jradi_desktop.ui.tuning._widget import TuningWidget

__all__ = [
    "EngineJob",
    "EvolvePage",
    "JobPage",
    "LoraPage",
    "ScorePlot",
    "Step",
    "TuningWidget",
    "engine_arguments",
    "engine_command",
]
