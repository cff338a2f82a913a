"""JRadiEvo's search parameters (REFERENCE.md §1): names, order and ranges, defined once.

A search over ``n`` models has ``2 n + 2`` numbers, in this order: the DARE drop rate ``p``,
each model's trim fraction ``k0..``, each model's weight ``w0..``, and the scale ``lambda``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Each family: its valid [low, high] and whether it has one value per model.
RANGES: dict[str, tuple[float, float]] = {
    "p": (0.0, 1.0),
    "k": (0.0, 1.0),
    "w": (0.0, 1.0),
    "lambda": (0.0, 2.0),
}
PER_MODEL = frozenset({"k", "w"})
FAMILIES = tuple(RANGES)  # the search's vector order


@dataclass(frozen=True)
class SearchParam:
    """One searched number: its name in a study (``k2``), family (``k``) and model index."""

    name: str
    family: str
    index: int | None = None

    @property
    def range(self) -> tuple[float, float]:
        return RANGES[self.family]


def search_params(n_models: int) -> list[SearchParam]:
    """The ``2 n + 2`` searched numbers in the search's vector order."""
    out: list[SearchParam] = []
    for family in FAMILIES:
        if family in PER_MODEL:
            out += [SearchParam(f"{family}{i}", family, i) for i in range(n_models)]
        else:
            out.append(SearchParam(family, family))
    return out


def param_names(n_models: int) -> list[str]:
    """A study's parameter names in the search's vector order: p, k0.., w0.., lambda."""
    return [param.name for param in search_params(n_models)]


def group_params(values: Mapping[str, float]) -> dict[str, float | list[float]]:
    """A trial's ``{name: value}`` by family, in order: ``{"p": .., "k": [..], ...}``; the
    shape of a recipe's ``parameters``. Families missing from ``values`` are left out."""
    out: dict[str, float | list[float]] = {}
    for family in FAMILIES:
        if family in PER_MODEL:
            names = [n for n in values if n.startswith(family) and n[len(family) :].isdigit()]
            names.sort(key=lambda n: int(n[len(family) :]))
            if names:
                out[family] = [values[n] for n in names]
        elif family in values:
            out[family] = values[family]
    return out
