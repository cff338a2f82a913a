"""The evolution recipe: a merge recipe (``engine.merge.Recipe``) plus an ``evolve:`` section.

.. code-block:: yaml

    base: models/Meta-Llama-3-8B
    models:
      - {path: models/Bunny-Llama-3-8B-V, role: vlm}   # exactly one VLM: it writes the reports
      - models/MMed-Llama-3-8B-EnIns
      - models/OpenBioLLM-Llama3-8B
      - models/Llama-3-Swallow-8B-Instruct-v0.1
    dtype: float16                  # task vectors (the default here; float32 doubles them)
    device: auto
    # parameters: {p: .., k: [..], w: [..], lambda: ..}   optional: the first trial (CMA-ES x0)
    evolve:
      data: dev/dev.csv             # or {path: .., image_col: .., report_col: .., findings_col: ..}
      n_trials: 1000
      sampler: cmaes                # cmaes (default), tpe, gp, random
      seed: 0
      bounds: {p: [0, 1], k: [0, 1], w: [0, 1], lambda: [0, 2]}   # k, w also one pair per model
      max_new_tokens: 256
      batch_size: 16                # dev reports generated together (memory: ADR 0005)
      decoder: auto                 # auto: static-cache greedy decoder; transformers: generate()
      pruning: {fraction: 0.5, keep_top: 50, startup_trials: 20}  # optional

All checks, the merge recipe's and the evolve section's, end in one ``ValueError`` listing
every problem (``load_evolve_recipe`` turns it into an ``EvolveError`` naming the file). The
VLM's family (Bunny or LLaVA) is not a setting: the run asks the architecture registry for it
(``engine.evolve._vlm.vlm_family``) from the folder's ``config.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine._yaml_config import limited, read_yaml_mapping, validate
from engine.evolve._errors import EvolveError
from engine.merge import Recipe
from jradi_desktop.contract import (
    EVOLVE_BATCH_SIZE,
    EVOLVE_MAX_NEW_TOKENS,
    EVOLVE_N_TRIALS,
    EVOLVE_SAMPLER,
    FAMILIES,
    PER_MODEL,
    RANGES,
    SAMPLERS,
    STUDY_NAME,
    OutType,
    QuantType,
)
from jradi_desktop.imaging import MODEL_SIZE

Pair = tuple[float, float]


class DataSettings(BaseModel):
    """Where the development pairs are and which columns hold what (None: found by name)."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    image_col: str | None = None
    report_col: str | None = None
    findings_col: str | None = None


class Pruning(BaseModel):
    """Score the first ``fraction`` of the dev set first; prune the trial unless that partial
    score is within the top ``keep_top`` percent of earlier trials' (after
    ``startup_trials`` trials; Optuna's ``PercentilePruner``, 50 = median pruning)."""

    model_config = ConfigDict(extra="forbid")

    fraction: float = Field(0.5, gt=0.0, lt=1.0)
    keep_top: float = Field(50.0, gt=0.0, lt=100.0)
    startup_trials: int = Field(10, ge=0)


class ExportSettings(BaseModel):
    """What the run writes for the best trial: the HF folder, and GGUF (with mmproj)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    gguf: bool = True
    outtype: OutType = "f16"
    quantize: QuantType | None = None


class EvolveSettings(BaseModel):
    """The ``evolve:`` section of a recipe."""

    model_config = ConfigDict(extra="forbid")

    data: DataSettings
    n_trials: int = limited(EVOLVE_N_TRIALS)
    sampler: str = EVOLVE_SAMPLER
    seed: int = 0
    bounds: dict[str, Pair | list[Pair]] = Field(default_factory=dict)
    max_new_tokens: int = limited(EVOLVE_MAX_NEW_TOKENS)
    batch_size: int = limited(EVOLVE_BATCH_SIZE)
    image_size: tuple[int, int] = MODEL_SIZE
    model_dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    decoder: Literal["auto", "transformers"] = "auto"
    storage: str | list[str] | None = None
    base_storage: str | None = None
    pruning: Pruning | None = None
    study_name: str = STUDY_NAME
    heartbeat_interval: int = Field(10, ge=1)
    grace_period: int = Field(60, ge=2)
    export: ExportSettings = Field(default_factory=ExportSettings)

    @field_validator("data", mode="before")
    @classmethod
    def _bare_path(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str | Path) else value

    def problems(self, n_models: int) -> list[str]:
        """Cross-field problems given the recipe's number of models."""
        out = []
        if self.sampler not in SAMPLERS:
            out.append(
                f"evolve.sampler {self.sampler!r} is not known; choose one of {list(SAMPLERS)}"
            )
        unknown = sorted(set(self.bounds) - set(RANGES))
        if unknown:
            out.append(f"evolve.bounds: unknown {unknown}; the names are {', '.join(FAMILIES)}")
        for name, value in self.bounds.items():
            if name not in RANGES:
                continue
            pairs = value if isinstance(value, list) else [value]
            if isinstance(value, list) and (name not in PER_MODEL or len(value) != n_models):
                what = (
                    "one [low, high] pair"
                    if name not in PER_MODEL
                    else (f"one [low, high] pair or a list of {n_models} pairs, one per model")
                )
                out.append(f"evolve.bounds.{name} must be {what}")
                continue
            low_ok, high_ok = RANGES[name]
            for low, high in pairs:
                if not low_ok <= low <= high <= high_ok:
                    out.append(
                        f"evolve.bounds.{name} = [{low:g}, {high:g}] must satisfy "
                        f"{low_ok:g} <= low <= high <= {high_ok:g}"
                    )
        if isinstance(self.storage, list) and len(self.storage) != n_models:
            out.append(f"evolve.storage lists {len(self.storage)} devices for {n_models} models")
        if min(self.image_size) < 1:
            out.append(f"evolve.image_size {list(self.image_size)} must be positive")
        return out

    def bounds_for(self, name: str, n_models: int) -> list[Pair]:
        """``[low, high]`` of ``p`` / ``lambda`` (one pair) or of ``k`` / ``w`` (one per model)."""
        value = self.bounds.get(name, RANGES[name])
        if isinstance(value, list):
            return [tuple(map(float, v)) for v in value]  # type: ignore[misc]
        low, high = map(float, value)
        return [(low, high)] * (n_models if name in PER_MODEL else 1)


class EvolveRecipe(Recipe):
    """A JRadiEvo recipe with an ``evolve:`` section; ``parameters`` are optional here.

    ``dtype`` (the task vectors') defaults to float16 here: half the memory of float32 at 8B
    (64 instead of 128 GB for four) and one radix pass less per trial (docs/adr/0003).
    """

    dtype: Literal["float32", "float16", "bfloat16"] = "float16"
    evolve: EvolveSettings

    def _check_jradievo(self, problems: list[str], n: int) -> None:
        if self.parameters:
            super()._check_jradievo(problems, n)
        self._check_evolve(problems, n)

    def _check_mergekit(self, problems: list[str], n: int) -> None:
        problems.append(
            f"method {self.method!r}: the evolution searches the jradievo method only; "
            "set method: jradievo"
        )
        self._check_evolve(problems, n)

    def _check_evolve(self, problems: list[str], n: int) -> None:
        if self.vlm is None:
            problems.append(
                "models: the evolution needs one model with role: vlm (it writes the reports "
                "the fitness scores)"
            )
        problems.extend(self.evolve.problems(n))

    def resolved(self, root: str | Path) -> EvolveRecipe:
        out = super().resolved(root)
        path = Path(self.evolve.data.path).expanduser()
        path = (path if path.is_absolute() else Path(root) / path).resolve()
        data = self.evolve.data.model_copy(update={"path": path})
        return out.model_copy(update={"evolve": self.evolve.model_copy(update={"data": data})})


def load_evolve_recipe(path: str | Path) -> EvolveRecipe:
    """Read an evolution recipe; relative paths in it are relative to the file's folder."""
    path = Path(path)
    data = read_yaml_mapping(path, EvolveError, "recipe", "base:, models:, evolve: ...")
    return validate(EvolveRecipe, data, EvolveError, str(path), "recipe").resolved(path.parent)
