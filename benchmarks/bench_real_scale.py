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
(b) S² of one 512 px image: the numpy glue of ``jradi_desktop.architectures.bunny_s2._s2`` (pad,
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
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any HF import)
from benchmarks._real_scale_merge import N_MODELS, bench_merge
from benchmarks._real_scale_models import (
    GIB,
    Clock,
    RssSampler,
    free,
    llama,
    llama_numel,
    peak_rss_gib,
    randomise,
)

LLAMA_LAYERS, SIGLIP_LAYERS = 32, 26  # language layers; SigLIP trunk layers Bunny runs (of 27)


# --- (b) S² -----------------------------------------------------------------------------


def bench_s2(args: argparse.Namespace, clock: Clock) -> dict[str, float]:
    import numpy as np
    import torch
    from PIL import Image

    from jradi_desktop.architectures.bunny_s2 import BunnyVision, _s2, siglip_trunk

    dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    settings = BunnyVision(
        width=args.vision_hidden, intermediate=args.vision_intermediate, heads=args.vision_heads,
        layers=args.vision_layers, select_layer=-1,  # the trunk runs all --vision-layers
        patch=args.patch, image_size=args.image_size, eps=1e-6, act="gelu_pytorch_tanh",
        scales=tuple(args.image_size * s for s in (1, 2, 3)),
    )  # fmt: skip
    trunk_model = siglip_trunk(
        settings
    )  # random weights.to(device=args.device, dtype=dtype).eval()
    scales = list(settings.scales)
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
