"""Model merging: task vectors, the JRadiEvo DARE + TIES merge, mergekit methods, VLM towers.

``merge_state_dicts`` is the plain JRadiEvo merge; ``MergeContext`` holds the task vectors
once and writes a trial's merge into a live model in place (what the evolution calls a
thousand times); ``iter_merge`` runs a YAML recipe end to end (``jradi-engine merge``).
See REFERENCE.md §1 and docs/adr/0003-jradievo-merge.md.
"""

from engine.merge._context import DEFAULT_CHUNK, MergeContext, MergeStats
from engine.merge._dare import DARE_SEED, dare_keep, dare_scale, dare_uniform, drop_limit, hash32
from engine.merge._errors import MergeError
from engine.merge._io import language_targets, open_model_folder
from engine.merge._job import check_folders, iter_merge, merge, resolve_device
from engine.merge._jradievo import JRadiEvoParams, merge_state_dicts, trim_count
from engine.merge._mergekit import MERGEKIT_METHODS, mergekit_configuration, run_mergekit
from engine.merge._recipe import METHODS, RECIPE_FILE, ModelEntry, Recipe, load_recipe
from engine.merge._select import kth_smallest_magnitudes
from engine.merge._task_vectors import TAU_DTYPES, mergeable_names, task_vectors
from engine.merge._vlm import extract_language_tower, splice_language_tower, write_language_copy

__all__ = [
    "DARE_SEED",
    "DEFAULT_CHUNK",
    "MERGEKIT_METHODS",
    "METHODS",
    "RECIPE_FILE",
    "TAU_DTYPES",
    "JRadiEvoParams",
    "MergeContext",
    "MergeError",
    "MergeStats",
    "ModelEntry",
    "Recipe",
    "check_folders",
    "dare_keep",
    "dare_scale",
    "dare_uniform",
    "drop_limit",
    "extract_language_tower",
    "hash32",
    "iter_merge",
    "kth_smallest_magnitudes",
    "language_targets",
    "load_recipe",
    "merge",
    "merge_state_dicts",
    "mergeable_names",
    "mergekit_configuration",
    "open_model_folder",
    "resolve_device",
    "run_mergekit",
    "splice_language_tower",
    "task_vectors",
    "trim_count",
    "write_language_copy",
]
