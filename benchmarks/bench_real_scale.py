"""JRadiEvo at the real widths: one trial's merge, the S² encoding of one image and batched
greedy decoding, timed on a few layers and extrapolated to the whole model.

    .venv/bin/python benchmarks/bench_real_scale.py [--layers 1] [--vision-layers 1]
        [--trials 2] [--rows 8] [--text-tokens 40] [--new-tokens 32] [--threads N]
        [--device cpu|cuda] [--max-gib 8]

Random weights with Llama-3-8B's widths (hidden 4096, MLP 14336, vocab 128256, 32 query and
8 KV heads of 128) and SigLIP-so400m's (1152, 4304, 16 heads, patch 14, 384 px: 729 rows);
``--layers`` / ``--vision-layers`` of each (default 1 on a CPU, all 32 / 26 with
``--device cuda``). Nothing is downloaded. Measured, each in the same run:

(a) one trial's merge: ``MergeContext.merge_into`` of four float16 task vectors (three
    specialists + the VLM's tower, as the evolve recipe holds them: ADR 0005) into a live
    ``LlamaForCausalLM`` (float32 on a CPU, float16 on CUDA, as ``model_dtype: auto``),
    against a naive per-tensor DARE + TIES over the same tensors (``torch.rand`` masks
    reseeded per tensor, one ``torch.kthvalue`` over each flattened model, whole-tensor
    float32 arithmetic). With p = 0 both must agree except at sign ties (checked). The merged
    model's vocabulary is ``--merge-vocab`` rows (default 1/32 of 128256 on a CPU, to stay
    within memory): the merge is element-wise, so it is extrapolated per parameter to 8.03 B.
(b) S² of one 512 px image: the numpy glue of ``jradi_desktop.architectures._s2`` (pad,
    resize, 1 + 4 + 9 crops of 384, pooling, ``mlp2x_gelu`` 3456 -> 4096 -> 4096) around
    transformers' ``SiglipVisionModel`` (``--vision-layers``), extrapolated to the 26 layers
    Bunny runs.
(c) batched greedy decoding: ``--rows`` dev rows of ``--text-tokens`` + 729 image rows,
    prefill and ``--new-tokens`` tokens through ``generate(inputs_embeds=..., static cache)``
    on ``--layers`` layers; the decoding model has a tiny vocabulary and the 128256-row
    ``lm_head`` is timed on its own.

Prints a table (measured, per layer, whole model), a per-trial estimate (merge + decoding
``--dev-images`` 50 dev images x ``--dev-tokens`` 256 tokens) and the peak memory.
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any HF import)

LLAMA_LAYERS, SIGLIP_LAYERS = 32, 26  # language layers; SigLIP trunk layers Bunny runs (of 27)
PARAMS = [  # [p, k_1..k_4, w_1..w_4, lambda], as bench_evolve
    [0.3, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0],
    [0.6, 0.8, 0.1, 0.5, 0.2, 0.2, 0.9, 0.4, 0.1, 1.7],
    [0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.8],
    [0.9, 0.0, 0.9, 0.3, 0.6, 1.0, 0.3, 0.7, 0.2, 1.2],
]
CHECK = [0.0, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0]  # p = 0: same masks both ways
N_MODELS = 4
GIB = 1024**3


def llama_numel(hidden: int, ff: int, vocab: int, heads: int, kv: int, layers: int) -> int:
    head_dim = hidden // heads
    attn = 2 * hidden * heads * head_dim + 2 * hidden * kv * head_dim
    return layers * (attn + 3 * hidden * ff + 2 * hidden) + 2 * vocab * hidden + hidden


def peak_rss_gib() -> float:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class RssSampler:
    """The largest resident set seen while a phase runs (psutil, sampled every 10 ms)."""

    def __init__(self) -> None:
        import psutil

        self.process, self.peak, self.stop = psutil.Process(), 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def start(self) -> RssSampler:
        self.thread.start()
        return self

    def gib(self) -> float:
        """Stop sampling; the peak in GiB."""
        self.stop.set()
        self.thread.join()
        return max(self.peak, self.process.memory_info().rss) / GIB


class Clock:
    """Wall-clock seconds, synchronising CUDA around each measurement."""

    def __init__(self, device: str) -> None:
        import torch

        self.sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def time(self, fn: Callable[[], object]) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start


def free(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def llama(args: argparse.Namespace, layers: int, vocab: int, dtype: object) -> object:
    """An uninitialised ``LlamaForCausalLM`` at the requested widths, on the device."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.initialization import no_init_weights

    config = LlamaConfig(
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.hidden // args.heads,
        vocab_size=vocab,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=0,
    )
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with no_init_weights(), torch.device(args.device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def randomise(model: object) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            p.fill_(1.0) if "norm" in name else p.normal_(0.0, 0.02)


# --- (a) merge --------------------------------------------------------------------------


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


# --- (b) S² -----------------------------------------------------------------------------


def bench_s2(args: argparse.Namespace, clock: Clock) -> dict[str, float]:
    import numpy as np
    import torch
    from PIL import Image
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from jradi_desktop.architectures import _s2

    dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    config = SiglipVisionConfig(
        hidden_size=args.vision_hidden,
        intermediate_size=args.vision_intermediate,
        num_hidden_layers=args.vision_layers,
        num_attention_heads=args.vision_heads,
        image_size=args.image_size,
        patch_size=args.patch,
        layer_norm_eps=1e-6,
        hidden_act="gelu_pytorch_tanh",
        vision_use_head=False,
    )
    trunk_model = SiglipVisionModel(config).to(device=args.device, dtype=dtype).eval()
    scales = [args.image_size * s for s in (1, 2, 3)]
    rng = np.random.default_rng(0)
    width, feature = args.vision_hidden, 3 * args.vision_hidden
    first = (rng.standard_normal((args.hidden, feature), np.float32) * 0.02, np.zeros(args.hidden))
    second = (rng.standard_normal((args.hidden, args.hidden), np.float32) * 0.02, first[1])
    image = Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
    spent = {"trunk": 0.0}

    def trunk(crops: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(crops).to(device=args.device, dtype=dtype)
        start = time.perf_counter()
        with torch.inference_mode():
            rows = trunk_model(pixel_values=x, output_hidden_states=True).hidden_states[-1]
        clock.sync()
        spent["trunk"] += time.perf_counter() - start
        return rows.float().cpu().numpy()

    def one_image() -> np.ndarray:
        pixels = _s2.normalise(image, max(scales))
        return _s2.project(_s2.s2_features(pixels, scales, trunk), first, second)

    rows = one_image()  # warm-up
    assert rows.shape == ((args.image_size // args.patch) ** 2, args.hidden), rows.shape
    totals, trunks = [], []
    for _ in range(args.trials):
        spent["trunk"] = 0.0
        totals.append(clock.time(one_image))
        trunks.append(spent["trunk"])
    crops = torch.zeros(14, 3, args.image_size, args.image_size, device=args.device, dtype=dtype)
    embeddings = getattr(trunk_model, "vision_model", trunk_model).embeddings  # transformers 4 / 5
    with torch.inference_mode():
        embed = statistics.median(clock.time(lambda: embeddings(crops)) for _ in range(3))
    total, trunk_s = statistics.median(totals), statistics.median(trunks)
    trunk_model = embeddings = crops = None
    free(args.device)
    return {
        "total": total,
        "trunk": trunk_s,
        "embed": embed,
        "glue": total - trunk_s,
        "width": width,
    }


# --- (c) decoding -----------------------------------------------------------------------


def bench_decode(args: argparse.Namespace, clock: Clock) -> dict[str, float]:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    model = llama(args, args.layers, 256, dtype)  # tiny vocabulary; the real lm_head below
    randomise(model)
    image_rows = (args.image_size // args.patch) ** 2
    length = args.text_tokens + image_rows
    embeds = torch.randn(args.rows, length, args.hidden, device=args.device, dtype=dtype) * 0.02
    mask = torch.ones(args.rows, length, dtype=torch.long, device=args.device)

    stamps: list[float] = []

    class Stamp(StoppingCriteria):  # called after each new token: prefill, then every step
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kw: object):
            clock.sync()
            stamps.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def generate(x: torch.Tensor, m: torch.Tensor, new: int) -> None:
        with torch.inference_mode():
            model.generate(
                inputs_embeds=x,
                attention_mask=m,
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                cache_implementation="static",
                pad_token_id=0,
                stopping_criteria=StoppingCriteriaList([Stamp()]),
            )

    generate(embeds[:, :16], mask[:, :16], 2)  # warm-up on a short prompt
    stamps.clear()
    clock.sync()
    start = time.perf_counter()
    generate(embeds, mask, args.new_tokens)
    out = {"length": length, "prefill": stamps[0] - start, "batch": stamps[-1] - start}
    out["step"] = (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1)
    model = embeds = None
    free(args.device)
    head = torch.randn(args.vocab, args.hidden, device=args.device, dtype=dtype).mul_(0.02)
    h = torch.randn(args.rows, args.hidden, device=args.device, dtype=dtype)
    with torch.inference_mode():
        (h @ head.T).argmax(-1)  # warm-up
        out["head"] = statistics.median(
            clock.time(lambda: (h @ head.T).argmax(-1)) for _ in range(5)
        )
    head = None
    free(args.device)
    return out


# --- the table --------------------------------------------------------------------------


def estimate_gib(args: argparse.Namespace) -> float:
    """A rough peak for the largest phase, to refuse runs that would not fit."""
    live = 2 if args.device.startswith("cuda") else 4
    merged = llama_numel(
        args.hidden, args.intermediate, args.merge_vocab, args.heads, args.kv_heads, args.layers
    )
    # naive phase: base, task vectors, masks, the live model, then kthvalue's float16 copies
    # and int64 indices of a flattened model; the engine holds less. Plus ~0.5 GiB of process.
    merge = merged * (2 + 2 * N_MODELS + 1 + live + 12) + GIB // 2
    layer = llama_numel(args.hidden, args.intermediate, 0, args.heads, args.kv_heads, 1)
    tokens = args.text_tokens + (args.image_size // args.patch) ** 2
    acts = args.rows * tokens * args.intermediate * 4 * live
    return max(merge, layer * args.layers * live + acts, args.vocab * args.hidden * live) / GIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layers", type=int, help="language layers (1; 32 on cuda)")
    parser.add_argument("--vision-layers", type=int, help="SigLIP layers (1; 26 on cuda)")
    parser.add_argument("--naive-layers", type=int, help="layers the naive merge runs (<= 2)")
    parser.add_argument("--trials", type=int, default=2, help="timed repeats (after a warm-up)")
    parser.add_argument("--rows", type=int, default=8, help="dev rows per decoding batch")
    parser.add_argument("--text-tokens", type=int, default=40)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--dev-images", type=int, default=50, help="for the per-trial estimate")
    parser.add_argument("--dev-tokens", type=int, default=256, help="for the per-trial estimate")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--max-gib", type=float, default=8.0, help="refuse larger CPU runs")
    parser.add_argument("--skip", nargs="*", default=[], choices=["merge", "s2", "decode"])
    widths = parser.add_argument_group("widths (defaults: Llama-3-8B and SigLIP-so400m)")
    for flag, default in [
        ("hidden", 4096), ("intermediate", 14336), ("vocab", 128256), ("heads", 32),
        ("kv-heads", 8), ("merge-vocab", None), ("vision-hidden", 1152),
        ("vision-intermediate", 4304), ("vision-heads", 16), ("patch", 14), ("image-size", 384),
    ]:  # fmt: skip
        widths.add_argument(f"--{flag}", type=int, default=default)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.layers = args.layers or (LLAMA_LAYERS if cuda else 1)
    args.vision_layers = args.vision_layers or (SIGLIP_LAYERS if cuda else 1)
    args.naive_layers = min(args.layers, args.naive_layers or 2)
    args.merge_vocab = args.merge_vocab or (args.vocab if cuda else max(1, args.vocab // 32))
    if not cuda and estimate_gib(args) > args.max_gib:
        parser.error(
            f"--layers {args.layers} needs about {estimate_gib(args):.1f} GiB of memory, over "
            f"--max-gib {args.max_gib:g}; use fewer --layers (or raise --max-gib)"
        )

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clock = Clock(args.device)
    merge = {} if "merge" in args.skip else bench_merge(args, clock)
    rss = RssSampler().start()
    s2 = {} if "s2" in args.skip else bench_s2(args, clock)
    s2_rss, rss = rss.gib(), RssSampler().start()
    dec = {} if "decode" in args.skip else bench_decode(args, clock)
    if s2:
        s2["rss"] = s2_rss
    if dec:
        dec["rss"] = rss.gib()
    report(args, merge, s2, dec)
    return 0


def report(args: argparse.Namespace, merge: dict, s2: dict, dec: dict) -> None:
    import torch

    shape = (args.hidden, args.intermediate, args.vocab, args.heads, args.kv_heads)
    full = llama_numel(*shape, LLAMA_LAYERS)
    layer = llama_numel(*shape[:2], 0, *shape[3:], 1)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}; "
        f"language {args.hidden}/{args.intermediate}/vocab {args.vocab}/GQA "
        f"{args.heads}:{args.kv_heads}, {args.layers} of {LLAMA_LAYERS} layers "
        f"({full / 1e9:.2f} B parameters in all); vision {args.vision_hidden}/"
        f"{args.vision_intermediate}/{args.vision_heads} heads/{args.image_size} px, "
        f"{args.vision_layers} of {SIGLIP_LAYERS} layers; median of {args.trials}"
    )
    rows = []
    if merge:
        e_rate, n_rate = merge["engine"] / merge["numel"], merge["naive"] / merge["naive_numel"]
        rows += [
            ("(a) merge, engine (MergeContext)", merge["engine"], e_rate * layer, e_rate * full),
            ("(a) merge, naive per-tensor", merge["naive"], n_rate * layer, n_rate * full),
        ]
    if s2:
        per_layer = (s2["trunk"] - s2["embed"]) / args.vision_layers
        trunk = s2["embed"] + per_layer * SIGLIP_LAYERS
        whole = s2["glue"] + trunk  # one image, all layers
        rows += [
            (f"(b) S² trunk, 14 crops of {args.image_size}", s2["trunk"], per_layer, trunk),
            ("(b) S² glue + projector (numpy)", s2["glue"], None, s2["glue"]),
            ("(b) S², one image", s2["total"], None, whole),
        ]
    if dec:
        head = dec["head"] * args.new_tokens  # the real lm_head for every new token
        rows += [
            (f"(c) prefill {args.rows} x {dec['length']}", dec["prefill"],
             dec["prefill"] / args.layers, dec["prefill"] / args.layers * LLAMA_LAYERS),
            (f"(c) one step, {args.rows} rows", dec["step"], dec["step"] / args.layers,
             dec["step"] / args.layers * LLAMA_LAYERS + dec["head"]),
            (f"(c) lm_head {args.vocab} rows, one step", dec["head"], None, dec["head"]),
            (f"(c) batch: prefill + {args.new_tokens} tokens", dec["batch"],
             dec["batch"] / args.layers, dec["batch"] / args.layers * LLAMA_LAYERS + head),
        ]  # fmt: skip
    print(f"{'':40} {'measured s':>11} {'per layer s':>12} {'whole model s':>14}")
    for label, measured, per_layer, extrapolated in rows:
        pl = f"{per_layer:12.3f}" if per_layer is not None else f"{'':12}"
        print(f"{label:40} {measured:11.3f} {pl} {extrapolated:14.2f}")
    if merge:
        ratio = (merge["naive"] / merge["naive_numel"]) / (merge["engine"] / merge["numel"])
        print(
            f"merge: naive / engine {ratio:.1f}x per parameter; "
            f"{merge['numel'] / 1e6:.0f} M parameters merged (vocab {args.merge_vocab}), naive "
            f"over {merge['naive_numel'] / 1e6:.0f} M; context setup {merge['setup']:.1f} s, "
            f"resident {merge['resident_gb']:.2f} GB"
        )
        if "check_differ" in merge:
            print(
                f"p = 0 check, naive vs engine: {merge['check_differ']} elements differ, max "
                f"|diff| {merge['check_max']:.2e}; sign ties the engine patched: "
                f"{merge['check_ties']}"
            )
    if merge and dec:
        batches = math.ceil(args.dev_images / args.rows)
        step = dec["step"] / args.layers * LLAMA_LAYERS + dec["head"]
        prefill = dec["prefill"] / args.layers * LLAMA_LAYERS
        decode = batches * (prefill + (args.dev_tokens - 1) * step)
        merge_s = merge["engine"] / merge["numel"] * full
        print(
            f"one trial, whole model (extrapolated): merge {merge_s:.0f} s + decoding "
            f"{args.dev_images} images x {args.dev_tokens} tokens in {batches} batches of "
            f"{args.rows} {decode:.0f} s = {merge_s + decode:.0f} s"
        )
    if s2:
        print(f"S² of {args.dev_images} dev images, once per run: {args.dev_images * whole:.0f} s")
    phases = [
        ("merge, engine", merge, "rss_engine"),
        ("merge, naive", merge, "rss_naive"),
        ("S²", s2, "rss"),
        ("decoding", dec, "rss"),
    ]
    marks = ", ".join(f"{name} {d[key]:.2f}" for name, d, key in phases if d)
    print(f"peak RSS, GiB: {marks} (sampled every 10 ms); process {peak_rss_gib():.2f}")
    if args.device.startswith("cuda"):
        print(f"peak CUDA memory allocated: {torch.cuda.max_memory_allocated() / GIB:.1f} GiB")


if __name__ == "__main__":
    sys.exit(main())
