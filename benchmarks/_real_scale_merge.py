"""(a) of ``bench_real_scale.py``: one trial's merge, ``MergeContext.merge_into`` against a
naive per-tensor DARE + TIES over the same tensors."""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Iterator, Mapping

from benchmarks._real_scale_models import Clock, RssSampler, free, llama

PARAMS = [  # [p, k_1..k_4, w_1..w_4, lambda], as bench_evolve
    [0.3, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0],
    [0.6, 0.8, 0.1, 0.5, 0.2, 0.2, 0.9, 0.4, 0.1, 1.7],
    [0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.8],
    [0.9, 0.0, 0.9, 0.3, 0.6, 1.0, 0.3, 0.7, 0.2, 1.2],
]
CHECK = [0.0, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0]  # p = 0: same masks both ways
N_MODELS = 4


class Specialist(Mapping):
    """Model i: the base plus a small random difference, made tensor by tensor on demand, so
    four 8B-wide models never sit in memory at once (the context reads them the same way)."""

    def __init__(self, base: Mapping[str, object], index: int, scale: float) -> None:
        self.base, self.index, self.scale = base, index, scale
        self.order = {name: n for n, name in enumerate(base)}

    def __getitem__(self, name: str) -> object:
        import torch

        b = self.base[name]
        g = torch.Generator(device=b.device).manual_seed(1_000_003 * self.index + self.order[name])
        delta = torch.randn(b.shape, generator=g, device=b.device).mul_(self.scale)
        return delta.add_(b.float()).to(b.dtype)

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


def naive_merge(
    base: Mapping[str, object],
    taus: list[dict],
    vector: list[float],
    target: Mapping,
    compare: dict | None = None,
) -> None:
    """A straightforward DARE + TIES: whole tensors in float32, ``torch.rand`` masks reseeded
    per tensor (as the reference code), one ``kthvalue`` over each flattened model (float16
    magnitudes: exact); sign
    ties keep nothing (the engine patches them with the majority sign). With ``compare`` the
    result is not written but compared with ``target`` (elements that differ, largest
    difference)."""
    import torch

    p, k, w, lam = vector[0], vector[1:5], vector[5:9], vector[9]
    names = list(taus[0])
    keeps = {}
    for n in names:
        g = torch.Generator(device=base[n].device).manual_seed(42)
        keeps[n] = torch.rand(base[n].shape, generator=g, device=base[n].device) >= p
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    total_n = sum(base[n].numel() for n in names)
    thresholds = []
    for i, tau in enumerate(taus):
        m = math.floor(k[i] * total_n)
        if m == 0:
            thresholds.append(-math.inf)
            continue
        # the magnitudes in the task vectors' own float16 (exact; kthvalue's int64 indices
        # are the larger part of its memory either way)
        flat, at = torch.empty(total_n, dtype=tau[names[0]].dtype, device=keeps[names[0]].device), 0
        for n in names:
            flat[at : at + keeps[n].numel()] = (tau[n].abs() * keeps[n]).flatten()
            at += keeps[n].numel()
        thresholds.append(float(torch.kthvalue(flat, m).values))
        del flat
    with torch.no_grad():
        for n in names:
            trims = []
            for tau, thr in zip(taus, thresholds, strict=True):
                a = tau[n].float()
                trims.append((a * (keeps[n] & (a.abs() > thr))).mul_(scale))
            total = trims[0] + trims[1] + trims[2] + trims[3]
            elected = torch.sign(total)
            num, count = torch.zeros_like(total), torch.zeros_like(total)
            for t, wi in zip(trims, w, strict=True):
                agree = t * elected > 0
                num.add_((t * agree).mul_(wi))
                count.add_(agree)
            merged = num.div_(count.clamp_(min=1.0)).mul_(lam).add_(base[n].float())
            if compare is None:
                target[n].copy_(merged)
                continue
            diff = (merged.to(target[n].dtype).float() - target[n].float()).abs()
            compare["differ"] = compare.get("differ", 0) + int((diff > 0).sum())
            compare["max"] = max(compare.get("max", 0.0), float(diff.max()))


def bench_merge(args: argparse.Namespace, clock: Clock) -> dict[str, float]:
    import torch

    from engine.merge import JRadiEvoParams, MergeContext

    live_dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    live = llama(args, args.layers, args.merge_vocab, live_dtype)
    target = live.state_dict()
    base = {}
    for name, t in target.items():  # the base as Meta-Llama-3-8B stores it: bfloat16
        b = torch.randn(t.shape, device=args.device).mul_(0.02)
        base[name] = (b.mul_(0.05).add_(1.0) if "norm" in name else b).to(torch.bfloat16)
    models = [Specialist(base, i, 0.002 * (i + 1)) for i in range(N_MODELS)]
    vectors = PARAMS[: max(1, min(args.trials, len(PARAMS)))]
    out: dict[str, float] = {"numel": sum(t.numel() for t in base.values())}
    rss = RssSampler().start()

    start = time.perf_counter()
    context = MergeContext(base, models, dtype="float16", device=args.device)
    out["setup"] = time.perf_counter() - start
    warm = JRadiEvoParams.from_vector(vectors[0])
    context.merge_into(live, warm)  # warm-up: the first merge also draws the DARE table
    engine = []
    for v in vectors:
        params = JRadiEvoParams.from_vector(v)
        engine.append(clock.time(lambda p=params: context.merge_into(live, p)))
    out["resident_gb"] = sum(context.resident_bytes().values()) / 1e9
    checked = args.naive_layers == args.layers
    if checked:  # p = 0: the live model keeps the engine's result for the naive to compare
        out["check_ties"] = context.merge_into(live, JRadiEvoParams.from_vector(CHECK)).ties
    context = None  # freed before the naive builds its own task vectors
    free(args.device)
    out["rss_engine"] = rss.gib()
    rss = RssSampler().start()

    # naive: its own float16 task vectors over the first --naive-layers layers (and the rest)
    skip = tuple(f"model.layers.{i}." for i in range(args.naive_layers, args.layers))
    names = [n for n in base if not n.startswith(skip)]
    taus = [{n: (m[n].float() - base[n].float()).half() for n in names} for m in models]
    out["naive_numel"] = sum(base[n].numel() for n in names)
    check: dict = {}
    # warm-up, with p = 0 (compared with the engine's result when both merged the same model)
    clock.time(lambda: naive_merge(base, taus, CHECK, target, check if checked else None))
    if checked:
        out["check_differ"], out["check_max"] = check["differ"], check["max"]
    naive = [clock.time(lambda v=v: naive_merge(base, taus, v, target)) for v in vectors]
    out["engine"], out["naive"] = statistics.median(engine), statistics.median(naive)
    taus = live = target = base = models = None
    free(args.device)
    out["rss_naive"] = rss.gib()
    return out
