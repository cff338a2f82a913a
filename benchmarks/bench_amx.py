"""Q4_K_M prompt and generation speed with llama.cpp's extra buffer types on and off, per CPU
backend: what turning them off (to keep llama.cpp out of its crashing AMX kernels, issue #19)
costs on this CPU.

    .venv/bin/python benchmarks/bench_amx.py [--layers 2] [--threads 2] [--variants native]
    packaging/build/venv-clinician/bin/python benchmarks/bench_amx.py \\
        --variants sapphirerapids,icelake,haswell     # the portable build's CPU variants

A Llama-3-8B-wide model (4096 / 14336, GQA 32:8, the demo tokenizer's small vocabulary) with
``--layers`` layers of random weights is exported to GGUF and quantised to Q4_K_M once. Each
(variant, extra buffer types) pair then runs in its own process (a crash is reported as one):
a ``--prompt``-token prefill, then ``--generate`` single-token decode steps. Prints tokens/s
and, per variant, the ratio off/on; per-layer figures extrapolate to Llama-3-8B's 32 layers
(the embedding and output layers are small here).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any HF import)


def build_model(out: Path, layers: int) -> Path:
    """A Q4_K_M GGUF of a Llama at Llama-3-8B's widths with ``layers`` layers."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.demo import build_tokenizer
    from engine.export import export_gguf

    tokenizer = build_tokenizer(1024)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=4096, intermediate_size=14336,
        num_hidden_layers=layers, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=8192, rms_norm_eps=1e-5, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, dtype="float16",
    )  # fmt: skip
    model = LlamaForCausalLM(config).to(torch.float16)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    folder = out / "hf"
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    del model
    return export_gguf(folder, out / "gguf", "f16", "Q4_K_M").model


def _load_variant(name: str) -> None:
    """Load one CPU variant of the portable build (before llama.cpp picks the best one)."""
    import ctypes

    from jradi_desktop.inference._llama_runtime import _ggml, _library_folder

    path = _library_folder() / f"libggml-cpu-{name}.so"
    if not path.is_file():
        raise SystemExit(f"{path} not found: variants need the portable build (build_wheel.sh)")
    lib = _ggml()
    lib.ggml_backend_load.argtypes = [ctypes.c_char_p]
    lib.ggml_backend_load.restype = ctypes.c_void_p
    if not lib.ggml_backend_load(str(path).encode()):
        raise SystemExit(f"{path}: this CPU cannot run it")


def measure(model: Path, variant: str, extra: bool, args: argparse.Namespace) -> dict:
    """One configuration, in this process: prefill and decode tokens/s."""
    import numpy as np

    from jradi_desktop.inference import ensure_cpu_backend, load_llama

    if variant != "native":
        _load_variant(variant)
    backend = ensure_cpu_backend()
    llm = load_llama(model, use_extra_bufts=extra, n_ctx=args.prompt + args.generate + 8,
                     n_batch=args.prompt, n_ubatch=args.prompt, n_threads=args.threads,
                     n_threads_batch=args.threads, verbose=False)  # fmt: skip
    rng = np.random.default_rng(0)
    tokens = rng.integers(300, llm.n_vocab(), args.prompt + args.generate).tolist()
    llm.eval(tokens[:8])  # warm-up: graphs, buffers (and a crash, if there is one)
    llm.reset()
    start = time.perf_counter()
    llm.eval(tokens[: args.prompt])
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for token in tokens[args.prompt :]:
        llm.eval([token])
    decode = time.perf_counter() - start
    llm.close()
    return {"variant": backend.variant or "native", "amx": backend.has_amx,
            "prefill_tps": args.prompt / prefill, "decode_tps": args.generate / decode}  # fmt: skip


def run_one(model: Path, variant: str, extra: bool, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--measure", str(model), "--variants", variant,
               "--extra-bufts", str(int(extra)), "--threads", str(args.threads),
               "--prompt", str(args.prompt), "--generate", str(args.generate)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        code = done.returncode
        why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
        return {"variant": variant, "crashed": why, "tail": done.stderr[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=256)
    parser.add_argument("--generate", type=int, default=32)
    parser.add_argument(
        "--variants",
        default="native",
        help="comma-separated: native (the installed build as it loads) or portable CPU "
        "variants (haswell, icelake, sapphirerapids, ...)",
    )
    parser.add_argument("--model", type=Path, help="a Q4_K_M GGUF made by an earlier run")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--extra-bufts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.variants, bool(args.extra_bufts), args)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_model(Path(tmp), args.layers)
        print(f"Q4_K_M, Llama-3-8B widths, {args.layers} layer(s), {args.threads} thread(s), "
              f"prompt {args.prompt}, {args.generate} decode steps ({model})")  # fmt: skip
        print(f"{'CPU backend':24} {'extra bufts':>11} {'prefill tok/s':>14} {'decode tok/s':>13}")
        for variant in args.variants.split(","):
            rows = {extra: run_one(model, variant, extra, args) for extra in (True, False)}
            for extra, row in rows.items():
                name = f"{row['variant']}{' (AMX)' if row.get('amx') else ''}"
                if "crashed" in row:
                    print(f"{name:24} {'on' if extra else 'off':>11}   crashed: {row['crashed']}")
                    continue
                print(f"{name:24} {'on' if extra else 'off':>11} {row['prefill_tps']:14.1f} "
                      f"{row['decode_tps']:13.2f}")  # fmt: skip
            on, off = rows[True], rows[False]
            if "crashed" not in on and "crashed" not in off:
                print(f"{'':24} {'off / on':>11} {off['prefill_tps'] / on['prefill_tps']:14.2f} "
                      f"{off['decode_tps'] / on['decode_tps']:13.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
