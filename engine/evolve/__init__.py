"""JRadiEvo's evolutionary search: Optuna (CMA-ES by default) over the merge's 10 numbers.

``iter_evolve`` runs or resumes a study (SQLite in the workspace, or PostgreSQL shared by
several workers): each trial merges in place into the live VLM, generates the dev reports in
batches and scores their mean Japanese ROUGE-L; at the end the best model is exported (HF
folder + GGUF) and summarised. See REFERENCE.md §1 and docs/adr/0005-evolve.md.
"""

from engine.evolve._errors import EvolveError
from engine.evolve._fitness import ReportFitness
from engine.evolve._history import iter_history
from engine.evolve._job import evolve, iter_evolve
from engine.evolve._settings import EvolveRecipe, load_evolve_recipe

__all__ = [
    "EvolveError",
    "EvolveRecipe",
    "ReportFitness",
    "evolve",
    "iter_evolve",
    "iter_history",
    "load_evolve_recipe",
]
