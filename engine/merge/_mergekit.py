"""mergekit's merge methods through its Python API, offline, on local Llama folders.

A recipe's method and parameters become a ``MergeConfiguration``; ``run_merge`` runs it with
``MergeOptions(write_model_card=False)`` (the model card step reaches for the Hub) and quiet
progress (the engine reports through events). The tokenizer files are copied from the base
(from the first model for ``linear``, which has no base): mergekit's rule with no
``tokenizer_source``, which also avoids its tokenizer rebuild. VLMs are merged through their
extracted language tower (``_vlm``): mergekit cannot line up a LLaVA with a plain Llama.

Parameters per method (lists have one entry per model, in the recipe's order):

- ``linear``: ``weight`` (default all 1), ``normalize`` (default true). The models only,
  not the base.
- ``task_arithmetic``: ``weight`` (default 1), ``lambda`` (1), ``normalize`` (false).
- ``ties``, ``dare_ties``: ``weight``, ``density`` (1), ``lambda`` (1), ``normalize`` (true);
  ``dare_ties`` draws its drops from a seeded global RNG (``seed``).
- ``slerp``: ``t`` in [0, 1] from the base (0) to the one model (1).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.merge._errors import MergeError

if TYPE_CHECKING:
    from mergekit.config import MergeConfiguration

MERGEKIT_METHODS = ("linear", "task_arithmetic", "ties", "dare_ties", "slerp")
# Per-model list parameters and shared scalar parameters each method accepts.
PER_MODEL = {
    "linear": ("weight",),
    "task_arithmetic": ("weight",),
    "ties": ("weight", "density"),
    "dare_ties": ("weight", "density"),
    "slerp": (),
}
SHARED = {
    "linear": ("normalize",),
    "task_arithmetic": ("lambda", "normalize"),
    "ties": ("lambda", "normalize"),
    "dare_ties": ("lambda", "normalize", "rescale"),
    "slerp": ("t",),
}


def mergekit_configuration(
    method: str,
    base: str | Path,
    models: Sequence[str | Path],
    parameters: Mapping[str, Any],
    dtype: str = "float32",
    out_dtype: str | None = None,
) -> MergeConfiguration:
    """The ``MergeConfiguration`` for one of ``MERGEKIT_METHODS`` over local folders."""
    from mergekit.config import MergeConfiguration

    if method not in MERGEKIT_METHODS:
        raise MergeError(
            f"mergekit method {method!r} is not offered; choose one of {MERGEKIT_METHODS}."
        )
    unknown = sorted(set(parameters) - set(PER_MODEL[method]) - set(SHARED[method]))
    if unknown:
        raise MergeError(
            f"{method} takes the parameters {[*PER_MODEL[method], *SHARED[method]]}; "
            f"unknown: {unknown}."
        )
    entries = []
    for i, model in enumerate(models):
        per_model = {
            key: float(parameters[key][i]) for key in PER_MODEL[method] if key in parameters
        }
        if method != "slerp":
            per_model.setdefault("weight", 1.0)
        entries.append({"model": str(model), "parameters": per_model or None})
    shared = {key: parameters[key] for key in SHARED[method] if key in parameters}
    config: dict[str, Any] = {
        "merge_method": method,
        "dtype": dtype,
        "out_dtype": out_dtype,
        "parameters": shared or None,
    }
    if method == "linear":
        config["models"] = entries
    elif method == "slerp":
        if len(models) != 1:
            raise MergeError(f"slerp merges the base with exactly one model; got {len(models)}.")
        config["base_model"] = str(base)
        config["models"] = [{"model": str(base)}, {"model": str(models[0])}]
    else:
        config["base_model"] = str(base)
        config["models"] = entries
    return MergeConfiguration.model_validate(config)


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """Silence mergekit's and transformers' warnings for the run (the engine never prints)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    mk = logging.getLogger("mergekit")
    mk_level = mk.level
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    mk.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        mk.setLevel(mk_level)


def run_mergekit(
    config: MergeConfiguration,
    out_dir: str | Path,
    device: str = "cpu",
    seed: int | None = None,
) -> Path:
    """Run ``config`` offline into ``out_dir``; ``seed`` seeds the global RNGs (dare_ties)."""
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    options = MergeOptions(
        write_model_card=False,
        quiet=True,
        device=device,
        cuda=device.startswith("cuda"),
        random_seed=seed,
        copy_tokenizer=True,
        safe_serialization=True,
    )
    with _quiet_libraries():
        try:
            run_merge(config, str(out_dir), options)
        except (RuntimeError, ValueError, KeyError, OSError) as exc:
            raise MergeError(f"mergekit {config.merge_method} failed: {exc}") from exc
    return Path(out_dir)
