"""Bootstrap confidence interval of a mean, reproducing the JRadiEvo reference code's numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# Rows of the index matrix drawn per call: bounds memory to ~32 MB of int64 for large n.
_MAX_CELLS = 4_000_000


class ConfidenceInterval(NamedTuple):
    """Mean of the scores and the bootstrap percentile interval around it."""

    mean: float
    lower: float
    upper: float


def bootstrap_ci(
    scores: Sequence[float] | np.ndarray,
    n_resamples: int = 10_000,
    seed: int = 42,
    confidence: float = 0.95,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of the mean of per-sample scores.

    Draws exactly what ``np.random.seed(seed)`` followed by ``n_resamples`` calls of
    ``np.random.choice(scores, len(scores))`` draws (the reference code's loop), but as one
    resample-by-sample index matrix from a private ``RandomState``: the numbers are identical,
    global NumPy state is untouched, and 10,000 resamples of 50 scores take milliseconds.
    ``mean`` is the mean of the scores themselves. Empty scores give NaN throughout.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 exclusive, got {confidence}")
    values = np.asarray(scores, dtype=np.float64)
    n = values.size
    if n == 0:
        return ConfidenceInterval(math.nan, math.nan, math.nan)
    rng = np.random.RandomState(seed)
    rows = max(1, _MAX_CELLS // n)
    means = np.empty(n_resamples, dtype=np.float64)
    # The legacy generator draws indices one after another, so chunking the rows does not
    # change them.
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        index = rng.choice(n, size=(stop - start, n), replace=True)
        means[start:stop] = values[index].mean(axis=1)
    tail = round((1 - confidence) * 50, 10)  # 2.5 exactly, not 2.5000000000000022
    lower, upper = np.percentile(means, [tail, 100 - tail])
    return ConfidenceInterval(float(values.mean()), float(lower), float(upper))
