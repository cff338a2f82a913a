"""The search space (its names, order and ranges: ``jradi_desktop.contract``) and the
samplers, by name."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.evolve._errors import EvolveError
from engine.evolve._settings import EvolveSettings, Pruning
from engine.merge import JRadiEvoParams
from jradi_desktop.contract import FAMILIES, SAMPLERS, param_names

if TYPE_CHECKING:
    import optuna


class SearchSpace:
    """``2 n + 2`` floats with the recipe's bounds; turns trials into ``JRadiEvoParams``."""

    def __init__(self, settings: EvolveSettings, n_models: int) -> None:
        self.n_models = n_models
        self.names = param_names(n_models)
        low_high = [pair for family in FAMILIES for pair in settings.bounds_for(family, n_models)]
        self.bounds = dict(zip(self.names, low_high, strict=True))

    def distributions(self) -> dict[str, Any]:
        from optuna.distributions import FloatDistribution

        return {name: FloatDistribution(low, high) for name, (low, high) in self.bounds.items()}

    def suggest(self, trial: optuna.Trial) -> JRadiEvoParams:
        values = [trial.suggest_float(name, *self.bounds[name]) for name in self.names]
        return JRadiEvoParams.from_vector(values)

    def params(self, values: Mapping[str, float]) -> JRadiEvoParams:
        """Parameters from a trial's ``params`` mapping."""
        return JRadiEvoParams.from_vector([values[name] for name in self.names])

    def as_dict(self, params: JRadiEvoParams) -> dict[str, float]:
        return dict(zip(self.names, params.to_vector(), strict=True))

    def clip(self, params: JRadiEvoParams) -> dict[str, float]:
        """``params`` moved inside the bounds (a recipe's start point may lie outside them)."""
        return {
            name: min(max(value, self.bounds[name][0]), self.bounds[name][1])
            for name, value in self.as_dict(params).items()
        }


def _cmaes(seed: int, x0: dict[str, float] | None) -> optuna.samplers.BaseSampler:
    if importlib.util.find_spec("cmaes") is None:
        raise EvolveError(
            "the CMA-ES sampler needs the 'cmaes' package, which is not installed: "
            "pip install cmaes (or pip install 'jradi-desktop[engine]'); or choose another "
            f"sampler ({', '.join(n for n in SAMPLERS if n != 'cmaes')})."
        )
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed, x0=x0)


def _tpe(seed: int, x0: dict[str, float] | None) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def _gp(seed: int, x0: dict[str, float] | None) -> optuna.samplers.BaseSampler:
    import optuna

    with warnings.catch_warnings():  # deterministic_objective is "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(seed=seed, deterministic_objective=True)


def _random(seed: int, x0: dict[str, float] | None) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


SAMPLER_FACTORIES: dict[str, Callable[[int, dict[str, float] | None], Any]] = {
    "cmaes": _cmaes,
    "tpe": _tpe,
    "gp": _gp,
    "random": _random,
}


def make_sampler(
    name: str, seed: int, x0: dict[str, float] | None = None
) -> optuna.samplers.BaseSampler:
    """The sampler registered as ``name`` (CMA-ES takes ``x0`` as its mean's start)."""
    try:
        factory = SAMPLER_FACTORIES[name]
    except KeyError:
        known = list(SAMPLER_FACTORIES)
        raise EvolveError(f"sampler {name!r} is not known; choose one of {known}.") from None
    return factory(seed, x0)


def make_pruner(pruning: Pruning | None) -> optuna.pruners.BasePruner:
    """Optuna's ``PercentilePruner`` on the partial dev-set score (keeping the top
    ``keep_top`` percent), or none."""
    import optuna

    if pruning is None:
        return optuna.pruners.NopPruner()
    return optuna.pruners.PercentilePruner(
        pruning.keep_top, n_startup_trials=pruning.startup_trials, n_warmup_steps=0
    )
