"""JRadiEvo's evolutionary search: Optuna (CMA-ES by default) over the merge's 10 numbers.

``iter_evolve`` runs or resumes a study (SQLite in the workspace, or PostgreSQL shared by
several workers): each trial merges in place into the live VLM, generates the dev reports in
batches and scores their mean Japanese ROUGE-L; at the end the best model is exported (HF
folder + GGUF) and summarised. See REFERENCE.md §1 and docs/adr/0005-evolve.md.
"""

from engine.evolve._errors import EvolveError
from engine.evolve._export import best_recipe, iter_export_best
from engine.evolve._fitness import Cancelled, FitnessResult, ReportFitness
from engine.evolve._history import iter_history
from engine.evolve._job import evolve, iter_evolve
from engine.evolve._run import TrialRunner
from engine.evolve._settings import (
    SAMPLER_NAMES,
    DataSettings,
    EvolveRecipe,
    EvolveSettings,
    ExportSettings,
    Pruning,
    load_evolve_recipe,
)
from engine.evolve._space import SAMPLERS, SearchSpace, make_pruner, make_sampler
from engine.evolve._storage import StudyStorage, open_storage, safe_url
from engine.evolve._summary import SUMMARY_DIR, plot_scores, write_summary

__all__ = [
    "SAMPLERS",
    "SAMPLER_NAMES",
    "SUMMARY_DIR",
    "Cancelled",
    "DataSettings",
    "EvolveError",
    "EvolveRecipe",
    "EvolveSettings",
    "ExportSettings",
    "FitnessResult",
    "Pruning",
    "ReportFitness",
    "SearchSpace",
    "StudyStorage",
    "TrialRunner",
    "best_recipe",
    "evolve",
    "iter_evolve",
    "iter_export_best",
    "iter_history",
    "load_evolve_recipe",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "plot_scores",
    "safe_url",
    "write_summary",
]
