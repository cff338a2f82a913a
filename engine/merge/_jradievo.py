"""The JRadiEvo merge (REFERENCE.md §1): DARE, then TIES with global per-model trim thresholds.

For model i with task vector tau_i, over the base's floating-point parameters (N elements):

1. DARE: keep-mask from ``_dare`` (seed 42, restarted at every tensor, the same for every
   model); dropped elements become 0, survivors are multiplied by ``1/(1-p)``.
2. Trim: ``m_i = floor(k_i * N)``. The threshold t_i is the m_i-th smallest (1-based) of the
   magnitudes of the DARE-dropped, *unscaled* vector over the whole model (dropped elements
   count as 0). An element survives if ``|tau| > t_i``; so k=0 keeps all and k=1 zeroes all,
   and elements tied with t_i are zeroed too. Comparing unscaled magnitudes is the same
   ordering as comparing the rescaled ones (one positive factor per model) without the
   rounding a rescale could add.
3. Elect: the sign of the plain sum (t_0 + t_1 + ... in float32, in model order) of the
   trimmed, rescaled vectors. Where that sum is exactly 0, the sign of the total of the
   elected signs over the whole model (the majority); if that total is 0 too, nothing is kept
   there.
4. Disjoint merge: per element, the sum of ``w_i * t_i`` over models whose trimmed value has
   the elected sign (zeros never agree), divided by the count of those models (at least 1).
5. ``theta = theta_base + lambda * tau_merged`` in float32, cast to the base's dtype.

``merge_state_dicts`` is the plain whole-tensor version; ``MergeContext`` (``_context``) is the
chunked, in-place one. Both call the element-wise steps below, so they agree bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.merge._dare import DARE_SEED, dare_keep, dare_scale
from engine.merge._errors import MergeError
from engine.merge._task_vectors import mergeable_names, task_vectors
from jradi_desktop.contract import FAMILIES, PER_MODEL, RANGES

if TYPE_CHECKING:
    import torch


def _check_range(name: str, family: str, value: float) -> None:
    low, high = RANGES[family]
    if not (isinstance(value, int | float) and low <= float(value) <= high):
        raise MergeError(
            f"JRadiEvo parameter {name} = {value!r} is out of range [{low:g}, {high:g}]."
        )


@dataclass(frozen=True)
class JRadiEvoParams:
    """The 10 numbers of one JRadiEvo trial (for 4 models): p, k[i], w[i], lambda.

    p: DARE drop rate in [0, 1], shared. k[i]: fraction of model i's task vector zeroed by the
    trim, in [0, 1]. w[i]: model i's weight in [0, 1]. lam: the scale of the merged task vector
    in [0, 2].
    """

    p: float
    k: tuple[float, ...]
    w: tuple[float, ...]
    lam: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", tuple(float(x) for x in self.k))
        object.__setattr__(self, "w", tuple(float(x) for x in self.w))
        values = self.by_family()
        for family in (f for f in FAMILIES if f not in PER_MODEL):
            _check_range(family, family, values[family])
        for i in range(min(len(self.k), len(self.w))):
            for family in (f for f in FAMILIES if f in PER_MODEL):
                _check_range(f"{family}[{i}]", family, values[family][i])
        if len(self.k) != len(self.w) or not self.k:
            raise MergeError(
                f"JRadiEvo needs one k and one w per model; got {len(self.k)} k and "
                f"{len(self.w)} w."
            )

    @property
    def n_models(self) -> int:
        return len(self.k)

    def by_family(self) -> dict[str, Any]:
        """``{family: value}`` in the search's order (a recipe's ``parameters``)."""
        return dict(zip(FAMILIES, (self.p, self.k, self.w, self.lam), strict=True))

    @classmethod
    def from_families(cls, values: Mapping[str, Any]) -> JRadiEvoParams:
        """The inverse of :meth:`by_family`."""
        p, k, w, lam = (values[family] for family in FAMILIES)
        return cls(p=p, k=tuple(k), w=tuple(w), lam=lam)

    @classmethod
    def from_vector(cls, values: Sequence[float]) -> JRadiEvoParams:
        """``[p, k_1..k_n, w_1..w_n, lambda]`` (10 numbers for 4 models), the search's order."""
        n, rest = divmod(len(values) - 2, 2)
        if n < 1 or rest:
            raise MergeError(
                f"a JRadiEvo vector is [p, k_1..k_n, w_1..w_n, lambda]; got {len(values)} numbers."
            )
        v = [float(x) for x in values]
        return cls(p=v[0], k=tuple(v[1 : 1 + n]), w=tuple(v[1 + n : 1 + 2 * n]), lam=v[-1])

    def to_vector(self) -> list[float]:
        return [self.p, *self.k, *self.w, self.lam]


def trim_count(k: float, n: int) -> int:
    """How many of ``n`` magnitudes the trim zeroes for fraction ``k``: ``floor(k * n)``."""
    return min(n, max(0, math.floor(k * n)))


NO_TRIM = float("-inf")  # the threshold when nothing is trimmed (m = 0)


def trimmed(
    tau: torch.Tensor | None, keep: torch.Tensor, threshold: float, scale: float
) -> torch.Tensor:
    """DARE + trim of one (chunk of a) task vector, in float32; None (missing) gives zeros."""
    import torch

    if tau is None:
        return torch.zeros(keep.shape, dtype=torch.float32, device=keep.device)
    a = tau.to(device=keep.device, dtype=torch.float32)
    # (a * mask) * scale rather than torch.where: the same values (+-0 where dropped), and
    # several times faster on a CPU. Inputs are finite, so no inf * 0.
    return (a * (keep & (a.abs() > threshold))).mul_(scale)


def plain_sum(values: Sequence[torch.Tensor]) -> torch.Tensor:
    """``((v0 + v1) + v2) + ...``: the election's sum, in a fixed order."""
    total = values[0].clone()
    for v in values[1:]:
        total = total + v
    return total


def signed_total(total: torch.Tensor) -> torch.Tensor:
    """Sum of the elected signs as an exact int64 (``#positive - #negative``)."""
    import torch

    return (total > 0).sum(dtype=torch.int64) - (total < 0).sum(dtype=torch.int64)


def disjoint_merge(
    values: Sequence[torch.Tensor], elected: torch.Tensor, weights: Sequence[float]
) -> torch.Tensor:
    """Weighted sum over agreeing models divided by the (unweighted) agreeing count."""
    import torch

    num = torch.zeros_like(values[0])
    count = torch.zeros_like(values[0])
    for v, w in zip(values, weights, strict=True):
        agree = v * elected > 0  # same sign as the elected one, and not 0 (elected is -1, 0, 1)
        num.add_((v * agree).mul_(w))
        count.add_(agree)
    return num.div_(count.clamp_(min=1.0))


def apply_merged(base: torch.Tensor, tau_merged: torch.Tensor, lam: float) -> torch.Tensor:
    """``theta_base + lambda * tau_merged`` in float32, computed in ``tau_merged``'s buffer."""
    import torch

    return tau_merged.mul_(lam).add_(base.to(device=tau_merged.device, dtype=torch.float32))


def merge_state_dicts(
    base: Mapping[str, torch.Tensor],
    models: Sequence[Mapping[str, torch.Tensor]],
    params: JRadiEvoParams,
    dtype: str | torch.dtype = "float32",
    seed: int = DARE_SEED,
) -> dict[str, torch.Tensor]:
    """The JRadiEvo merge of whole state dicts (canonical Llama names), step by step.

    ``dtype`` is the dtype task vectors are held in (``MergeContext``'s ``dtype``); the result
    has the base's keys and dtypes (non-float tensors are copied from the base). Meant for
    tests and small models: it holds every intermediate in memory.
    """
    import torch

    if len(models) != params.n_models:
        raise MergeError(f"{len(models)} models but parameters for {params.n_models}.")
    names = mergeable_names(base)
    taus = task_vectors(base, models, dtype)
    n_total = sum(base[name].numel() for name in names)
    keeps = {n: dare_keep(0, base[n].numel(), params.p, seed).view(base[n].shape) for n in names}
    scale = dare_scale(params.p)

    thresholds = []
    for i, tau in enumerate(taus):
        m = trim_count(params.k[i], n_total)
        if m == 0:
            thresholds.append(NO_TRIM)
            continue
        flat = torch.cat([torch.where(keeps[n], tau[n].abs(), 0).flatten().float() for n in names])
        thresholds.append(float(torch.kthvalue(flat, m).values))

    trims = {
        n: [
            trimmed(tau[n], keeps[n], thr, scale) for tau, thr in zip(taus, thresholds, strict=True)
        ]
        for n in names
    }
    sums = {n: plain_sum(trims[n]) for n in names}
    total = sum(int(signed_total(sums[n])) for n in names)
    majority = float((total > 0) - (total < 0))

    out = {}
    for name, tensor in base.items():
        if name not in sums:
            out[name] = tensor.clone()
            continue
        elected = torch.where(sums[name] == 0, majority, torch.sign(sums[name]))
        merged = disjoint_merge(trims[name], elected, params.w)
        out[name] = apply_merged(tensor, merged, params.lam).to(tensor.dtype)
    return out
