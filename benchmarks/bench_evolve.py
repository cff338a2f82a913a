"""Per-trial cost of the evolution: the engine against a naive loop like the published code.

    .venv/bin/python benchmarks/bench_evolve.py [--vlm llava|bunny] [--trials 4]
        [--max-new-tokens 32] [--pairs 8] [--batch-size 8] [--hidden 64 --layers 2]
        [--threads N] [--device cpu|cuda] [--decoder auto|transformers]

Both score the same parameter sets on the same demo models (built in a temp dir, the VLM in
the ``--vlm`` layout: LLaVA, or a tiny Bunny-v1.1; ``--hidden`` and ``--layers`` make a larger
language tower) and the same demo dev set (``--pairs``, 8):

(a) engine: ``ReportFitness.evaluate``: base and task vectors resident, the merge written in
    place into the live VLM, dev images, prompt and image rows (vision tower + projector; for
    a Bunny the S² rows) prepared once, generation in batches by the static-cache greedy
    decoder (the shared system prompt computed once per batch; ``--decoder transformers``
    uses ``generate`` instead);
(b) naive, what the JRadiEvo code does every trial: the base, the three LLMs and the VLM read
    from disk, ``merge_state_dicts``, a fresh VLM from disk with the merged tower loaded into
    it, then the dev samples generated one at a time (each image preprocessed and encoded
    again: a LLaVA's ``generate`` with pixel values; a Bunny's S² rows, then ``generate`` of
    its Llama on ``inputs_embeds``, the path ``jradi report`` takes).

Prints the median seconds per trial of each, the ratio (goal >= 10x), both mean ROUGE-L
scores, and the engine's in-place merge time per trial against one read pass over the
weights it holds (the base and the four task vectors).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any HF import)

PARAMS = [
    [0.3, 0.2, 0.4, 0.4, 0.3, 0.9, 0.5, 0.5, 0.7, 1.0],
    [0.6, 0.8, 0.1, 0.5, 0.2, 0.2, 0.9, 0.4, 0.1, 1.7],
    [0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.8],
    [0.9, 0.0, 0.9, 0.3, 0.6, 1.0, 0.3, 0.7, 0.2, 1.2],
]


def naive_trial(
    demo: Path,
    pairs: list,
    vector: list[float],
    max_new_tokens: int,
    device: str,
    dtype: str,
    vlm: str = "llava",
) -> float:
    """One trial the way the published code runs it: everything from disk, one sample at a time."""
    if vlm == "bunny":
        return naive_bunny_trial(demo, pairs, vector, max_new_tokens, device, dtype)
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, LlamaForCausalLM

    from engine.merge import JRadiEvoParams, language_targets, merge_state_dicts
    from engine.metrics import rouge_l, tokenize_ja
    from jradi_desktop.contract import MERGED_ROLES
    from jradi_desktop.inference import build_report_messages

    base = LlamaForCausalLM.from_pretrained(demo / "base").state_dict()
    models = []
    for name in MERGED_ROLES:
        if name == "vlm":
            state = AutoModelForImageTextToText.from_pretrained(demo / name).state_dict()
            models.append({c: state[k] for c, k in language_targets(state).items()})
        else:
            models.append(LlamaForCausalLM.from_pretrained(demo / name).state_dict())
    merged = merge_state_dicts(base, models, JRadiEvoParams.from_vector(vector), dtype=dtype)
    vlm = AutoModelForImageTextToText.from_pretrained(demo / "vlm")
    state = vlm.state_dict()
    with torch.no_grad():
        for canonical, key in language_targets(state).items():
            state[key].copy_(merged[canonical])
    vlm = vlm.to(device).eval()
    processor = AutoProcessor.from_pretrained(demo / "vlm")
    prompt = processor.apply_chat_template(build_report_messages(), add_generation_prompt=True)
    scores = []
    for pair in pairs:
        inputs = processor(images=pair.model_image(), text=prompt, return_tensors="pt")
        inputs = inputs.to(device)
        with torch.inference_mode():
            out = vlm.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        text = processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        scores.append(rouge_l(tokenize_ja(pair.findings), tokenize_ja(text.strip())))
    return sum(scores) / len(scores)


def naive_bunny_trial(
    demo: Path, pairs: list, vector: list[float], max_new_tokens: int, device: str, dtype: str
) -> float:
    """``naive_trial`` for a Bunny VLM: read through ``load_bunny`` (no custom code)."""
    import torch
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    from engine.merge import JRadiEvoParams, merge_state_dicts
    from engine.metrics import rouge_l, tokenize_ja
    from jradi_desktop.architectures.bunny_s2 import load_bunny, prompt_ids
    from jradi_desktop.contract import MERGED_ROLES
    from jradi_desktop.inference import BUNNY_CHAT_TEMPLATE, build_report_messages

    base = LlamaForCausalLM.from_pretrained(demo / "base").state_dict()
    models = []
    for name in MERGED_ROLES:
        if name == "vlm":
            models.append(load_bunny(demo / name).language.state_dict())
        else:
            models.append(LlamaForCausalLM.from_pretrained(demo / name).state_dict())
    merged = merge_state_dicts(base, models, JRadiEvoParams.from_vector(vector), dtype=dtype)
    bunny = load_bunny(demo / "vlm", device=device)
    state = bunny.language.state_dict()
    with torch.no_grad():
        for name, tensor in merged.items():
            state[name].copy_(tensor)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(demo / "vlm")
    text = tokenizer.apply_chat_template(
        build_report_messages(),
        chat_template=BUNNY_CHAT_TEMPLATE,
        add_generation_prompt=True,
        tokenize=False,
    )
    ids = prompt_ids(text, lambda chunk: tokenizer(chunk).input_ids, tokenizer.bos_token_id)
    scores = []
    for pair in pairs:
        with torch.inference_mode():
            rows = bunny.image_rows(bunny.pixels(pair.model_image()))
            embeds = bunny.embed(ids, rows)
            mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
            out = bunny.language.generate(
                inputs_embeds=embeds,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        text = tokenizer.decode(out[0], skip_special_tokens=True)
        scores.append(rouge_l(tokenize_ja(pair.findings), tokenize_ja(text.strip())))
    return sum(scores) / len(scores)


def read_pass_seconds(context, repeats: int = 5) -> float:
    """Median time to read every resident tensor of the context once (a sum over each)."""
    import torch

    tensors = context.resident_tensors()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        total = torch.zeros((), dtype=torch.float64, device=context.device)
        for t in tensors:
            total += t.to(context.device, non_blocking=True).sum(dtype=torch.float64)
        float(total)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vlm", default="llava", choices=["llava", "bunny"], help="VLM layout")
    parser.add_argument("--trials", type=int, default=4, help="parameter sets timed (max 4)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64, help="language tower width")
    parser.add_argument("--layers", type=int, default=2, help="language tower depth")
    parser.add_argument("--pairs", type=int, default=8, help="dev pairs (the paper has 50)")
    parser.add_argument("--batch-size", type=int, default=8, help="the engine's batch size")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--decoder", default="auto", choices=["auto", "transformers"])
    parser.add_argument(
        "--dtype", default="float16", help="task vectors (the evolve recipe's default: float16)"
    )
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from engine.data import load_report_pairs
    from engine.demo import DemoShape, iter_build_demo_models
    from engine.demo_data import write_demo_dev_set
    from engine.evolve import ReportFitness
    from engine.merge import JRadiEvoParams, MergeContext
    from jradi_desktop.contract import MERGED_ROLES

    with tempfile.TemporaryDirectory(prefix="bench-evolve-") as tmp:
        demo = Path(tmp) / "models"
        shape = DemoShape(
            hidden_size=args.hidden,
            intermediate_size=4 * args.hidden,
            num_layers=args.layers,
        )
        for _ in iter_build_demo_models(demo, seed=0, shape=shape, vlm=args.vlm):
            pass
        pairs = load_report_pairs(write_demo_dev_set(Path(tmp) / "dev", n=args.pairs)).pairs
        vectors = PARAMS[: max(1, min(args.trials, len(PARAMS)))]

        start = time.perf_counter()
        context = MergeContext.from_folders(
            demo / "base", [demo / m for m in MERGED_ROLES], device=args.device, dtype=args.dtype
        )
        fitness = ReportFitness(
            context,
            demo / "vlm",
            pairs,
            device=args.device,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            decoder=args.decoder,
        )
        setup = time.perf_counter() - start
        fitness.evaluate(JRadiEvoParams.from_vector(vectors[0]))  # warm-up
        engine_times, merge_times, engine_scores = [], [], []
        for vector in vectors:
            start = time.perf_counter()
            result = fitness.evaluate(JRadiEvoParams.from_vector(vector))
            engine_times.append(time.perf_counter() - start)
            merge_times.append(result.merge_seconds)
            engine_scores.append(result.score)

        naive = (args.max_new_tokens, args.device, args.dtype, args.vlm)
        naive_trial(demo, pairs, vectors[0], *naive)  # warm-up
        naive_times, naive_scores = [], []
        for vector in vectors:
            start = time.perf_counter()
            naive_scores.append(naive_trial(demo, pairs, vector, *naive))
            naive_times.append(time.perf_counter() - start)
        read = read_pass_seconds(context)

    params = context.numel
    engine_s, naive_s = statistics.median(engine_times), statistics.median(naive_times)
    merge_s = statistics.median(merge_times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(
        f"VLM: {fitness.family} (demo --vlm {args.vlm}); images through the vision path: "
        f"{fitness.images_encoded} (engine setup + {len(vectors) + 1} trials)"
    )
    print(
        f"language tower: {params / 1e6:.2f} M parameters (hidden {args.hidden}, "
        f"{args.layers} layers); {args.pairs} dev pairs, engine batch {args.batch_size}; "
        f"max_new_tokens {args.max_new_tokens}; {len(vectors)} trials; task vectors {args.dtype}"
    )
    print(f"engine setup (once): {setup:.2f} s; decoding with {fitness.decoder_note}")
    print(f"engine per trial:   {engine_s:.3f} s (median)  scores {engine_scores}")
    print(f"naive per trial:    {naive_s:.3f} s (median)  scores {naive_scores}")
    print(f"speed-up:           {naive_s / engine_s:.1f}x (goal >= 10x)")
    print(
        f"in-place merge:     {merge_s * 1e3:.1f} ms per trial = {merge_s / read:.1f} read passes "
        f"over the resident weights ({read * 1e3:.2f} ms each, "
        f"{sum(context.resident_bytes().values()) / 1e6:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
