"""Model merging: task vectors, the JRadiEvo DARE + TIES merge, mergekit methods, VLM towers.

``merge_state_dicts`` is the plain JRadiEvo merge; ``MergeContext`` holds the task vectors
once and writes a trial's merge into a live model in place (what the evolution calls a
thousand times); ``iter_merge`` runs a YAML recipe end to end (``jradi-engine merge``).
See REFERENCE.md §1 and docs/adr/0003-jradievo-merge.md.
"""

from engine.merge._context import MergeContext
from engine.merge._errors import MergeError
from engine.merge._io import language_targets
from engine.merge._job import check_folders, iter_merge, merge, resolve_device
from engine.merge._jradievo import JRadiEvoParams, merge_state_dicts
from engine.merge._recipe import RECIPE_FILE, Recipe, load_recipe
from engine.merge._vlm import splice_language_tower

__all__ = [
    "RECIPE_FILE",
    "JRadiEvoParams",
    "MergeContext",
    "MergeError",
    "Recipe",
    "check_folders",
    "iter_merge",
    "language_targets",
    "load_recipe",
    "merge",
    "merge_state_dicts",
    "resolve_device",
    "splice_language_tower",
]
