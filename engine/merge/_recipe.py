"""The merge recipe: a pydantic model read from YAML, checked as a whole.

.. code-block:: yaml

    base: models/Meta-Llama-3-8B          # paths are relative to the recipe file
    models:
      - {path: models/Bunny-Llama-3-8B-V, role: vlm}   # at most one VLM; its image path is kept
      - models/MMed-Llama-3-8B-EnIns                   # a bare path is an llm
      - models/OpenBioLLM-Llama3-8B
      - models/Llama-3-Swallow-8B-Instruct-v0.1
    method: jradievo                      # or linear, task_arithmetic, ties, dare_ties, slerp
    parameters: {p: 0.3, k: [0.2, 0.4, 0.4, 0.3], w: [0.9, 0.5, 0.5, 0.7], lambda: 1.0}
    dtype: float32                        # task vectors / mergekit arithmetic
    device: auto                          # auto, cpu, cuda, cuda:N
    seed: 42                              # DARE's mask (jradievo), dare_ties' RNG

Every cross-field rule is checked in one ``model_validator(mode="after")`` that lists all
problems in one ``ValueError``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine._yaml_config import read_yaml_mapping, validate
from engine.merge._errors import MergeError
from engine.merge._jradievo import JRadiEvoParams
from engine.merge._mergekit import MERGEKIT_METHODS, PER_MODEL, SHARED
from jradi_desktop.contract import FAMILIES, RANGES, device_problem
from jradi_desktop.contract import PER_MODEL as SEARCH_PER_MODEL

METHODS = ("jradievo", *MERGEKIT_METHODS)
RECIPE_FILE = "jradi_recipe.yaml"
# jradievo's ranges (REFERENCE.md §1): name -> (low, high).


class ModelEntry(BaseModel):
    """One model to merge: a folder and its role (``vlm`` for the VLM, else ``llm``)."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    role: Literal["llm", "vlm"] = "llm"


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_range(problems: list[str], label: str, value: Any, low: float, high: float) -> None:
    if not _number(value) or not low <= value <= high:
        problems.append(f"parameters.{label} = {value!r} must be a number in [{low:g}, {high:g}]")


def _per_model(problems: list[str], params: dict[str, Any], key: str, n: int) -> list[Any]:
    """``params[key]`` when it is a list of ``n`` values, one per model; else ``[]`` (and, when
    it is given but malformed, a problem)."""
    if key not in params:
        return []
    values = params[key]
    if not isinstance(values, list) or len(values) != n:
        problems.append(
            f"parameters.{key} = {values!r} must be a list of {n} numbers, one per model"
        )
        return []
    return values


class Recipe(BaseModel):
    """A merge: base, models with roles, method and its parameters, dtype, device, seed."""

    model_config = ConfigDict(extra="forbid")

    base: Path
    models: list[ModelEntry] = Field(min_length=1)
    method: str = "jradievo"
    parameters: dict[str, Any] = Field(default_factory=dict)
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "auto"
    seed: int = 42

    @field_validator("models", mode="before")
    @classmethod
    def _bare_paths(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, str | Path) else v for v in value]
        return value

    @property
    def vlm(self) -> ModelEntry | None:
        return next((m for m in self.models if m.role == "vlm"), None)

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        problems: list[str] = []
        n = len(self.models)
        vlms = [str(m.path) for m in self.models if m.role == "vlm"]
        if len(vlms) > 1:
            problems.append(
                f"models: {len(vlms)} have role 'vlm' ({', '.join(vlms)}); at most one model may "
                "be the VLM whose image path the merged model keeps"
            )
        seen = [str(self.base), *(str(m.path) for m in self.models)]
        twice = sorted({p for p in seen if seen.count(p) > 1})
        if twice:
            problems.append(
                f"models: {', '.join(twice)} listed more than once (the base counts); "
                "each folder may appear once"
            )
        if device := device_problem(self.device):
            problems.append(device)
        if self.method == "jradievo":
            self._check_jradievo(problems, n)
        elif self.method in MERGEKIT_METHODS:
            self._check_mergekit(problems, n)
        else:
            problems.append(f"method {self.method!r} is not known; choose one of {list(METHODS)}")
        if problems:
            raise ValueError(
                f"the recipe has {len(problems)} problem(s):\n- " + "\n- ".join(problems)
            )
        return self

    def _check_jradievo(self, problems: list[str], n: int) -> None:
        params = self.parameters
        missing = [key for key in FAMILIES if key not in params]
        unknown = sorted(set(params) - set(FAMILIES))
        if missing or unknown:
            problems.append(
                f"parameters: jradievo needs exactly {', '.join(FAMILIES)} (missing: {missing}, "
                f"unknown: {unknown})"
            )
        for key in (f for f in FAMILIES if f not in SEARCH_PER_MODEL):
            if key in params:
                _check_range(problems, key, params[key], *RANGES[key])
        for key in (f for f in FAMILIES if f in SEARCH_PER_MODEL):
            for i, v in enumerate(_per_model(problems, params, key, n)):
                _check_range(problems, f"{key}[{i}]", v, *RANGES[key])

    def _check_mergekit(self, problems: list[str], n: int) -> None:
        method, params = self.method, self.parameters
        allowed = (*PER_MODEL[method], *SHARED[method])
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            problems.append(f"parameters: {method} takes {list(allowed)}; unknown: {unknown}")
        for key in PER_MODEL[method]:
            for i, v in enumerate(_per_model(problems, params, key, n)):
                if key == "density":
                    _check_range(problems, f"density[{i}]", v, 0.0, 1.0)
                elif not _number(v):
                    problems.append(f"parameters.{key}[{i}] = {v!r} must be a number")
        if "lambda" in params and not _number(params["lambda"]):
            problems.append(f"parameters.lambda = {params['lambda']!r} must be a number")
        for key in ("normalize", "rescale"):
            if key in params and not isinstance(params[key], bool):
                problems.append(f"parameters.{key} = {params[key]!r} must be true or false")
        if method == "slerp":
            if n != 1:
                problems.append(f"models: slerp merges the base with exactly 1 model; got {n}")
            if "t" not in params:
                problems.append("parameters: slerp needs t in [0, 1]")
            else:
                _check_range(problems, "t", params["t"], 0.0, 1.0)

    def jradievo_params(self) -> JRadiEvoParams:
        """The jradievo parameters as ``JRadiEvoParams`` (method must be jradievo)."""
        if self.method != "jradievo":
            raise MergeError(f"method {self.method!r} has no JRadiEvo parameters.")
        return JRadiEvoParams.from_families(self.parameters)

    def resolved(self, root: str | Path) -> Recipe:
        """A copy whose relative paths are taken from ``root`` (the recipe's folder)."""
        root = Path(root)

        def fix(path: Path) -> Path:
            path = path.expanduser()
            return (path if path.is_absolute() else root / path).resolve()

        models = [m.model_copy(update={"path": fix(m.path)}) for m in self.models]
        return self.model_copy(update={"base": fix(self.base), "models": models})

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), allow_unicode=True, sort_keys=False)


def load_recipe(path: str | Path) -> Recipe:
    """Read a YAML recipe; relative paths in it are relative to the file's folder."""
    path = Path(path)
    data = read_yaml_mapping(path, MergeError, "recipe", "base:, models:, method: ...")
    return validate(Recipe, data, MergeError, str(path), "recipe").resolved(path.parent)
