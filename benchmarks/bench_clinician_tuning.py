"""Where the CPU time of a real-size report can be cut (issue #22, item 3): each knob measured
against the app's current setting in the same run, on the random-weight real-size Bunny-v1.1
that ``bench_clinician_report.py`` builds (``_clinician_model.py``).

    .venv/bin/python benchmarks/bench_clinician_tuning.py --model-dir DIR [--threads N]
        [--repeat 2] [--crops 3] [--positions 905] [--steps 32] [--only s2|llama] [--tiny]

**S² trunk** (one 384 px crop, the unit of the 14 an image needs), the ONNX fp32 trunk in
ONNX Runtime's CPU provider, seconds per crop:

- ``app``: what ``S2VisionEncoder`` does (intra-op threads = ``--threads``, one crop a run);
- ``ort-defaults``: a bare ``SessionOptions()`` (ONNX Runtime picks its own thread count);
- ``no-spin``: ``session.intra_op.allow_spinning = 0`` (threads sleep between ops);
- ``batched``: the crops of a scale in one run (``--crops`` at once), per crop;
- ``basic-opt``: graph optimisation ``ORT_ENABLE_BASIC`` instead of ``ALL``;
- ``torch``: the same trunk in torch fp32 (``torch.set_num_threads``), what the README once
  compared ORT against.

**llama.cpp** on ``model.gguf`` (Q4_K_M), through ``load_llama`` as the app loads it: a prompt
of ``--positions`` tokens (the report's 905: 729 image rows + text) in one ``eval``, then
``--steps`` greedy decode steps, per setting: the app's (llama-cpp-python's ``n_batch`` =
``n_ubatch`` = 512, flash attention off, f16 KV cache), flash attention on, ``n_batch`` =
``n_ubatch`` = 1024 / 256 / 128, ``n_ubatch`` 256 alone, flash attention + q8_0 KV cache
(``--settings`` picks some). The greedy tokens of each are compared with the app's.

Settings alternate within each repeat (A B C … A B C …) so that a shared CPU's slow spells
hit them alike; the table gives the medians and each setting's speed over the app's setting
(above 1: faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any ONNX Runtime or HF import)
from benchmarks._clinician_model import REAL, TINY, Shapes, _trunk, build_clinician_model


def say(line: str) -> None:
    print(line, flush=True)


# --- S² trunk --------------------------------------------------------------------------


def _session(path: Path, threads: int | None, spin: bool = True, basic: bool = False) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if basic:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def trunk_settings(
    trunk: Path, shapes: Shapes, threads: int, crops: int, torch_too: bool
) -> dict[str, Callable[[np.ndarray], None]]:
    """Setting name -> run ``crops`` crops through the trunk (one call per crop unless
    batched)."""

    def one_at_a_time(session: Any) -> Callable[[np.ndarray], None]:
        name = session.get_inputs()[0].name
        return lambda pixels: [session.run(None, {name: c[None]}) for c in pixels] and None

    def batched(session: Any) -> Callable[[np.ndarray], None]:
        name = session.get_inputs()[0].name
        return lambda pixels: session.run(None, {name: pixels}) and None

    app = _session(trunk, threads)
    settings = {
        "app": one_at_a_time(app),
        "ort-defaults": one_at_a_time(_session(trunk, None)),
        "no-spin": one_at_a_time(_session(trunk, threads, spin=False)),
        "batched": batched(app),
        "basic-opt": one_at_a_time(_session(trunk, threads, basic=True)),
    }
    if torch_too:
        import torch

        torch.set_num_threads(threads)
        vision = _trunk(shapes, seed=0)
        tower = getattr(vision, "vision_model", vision)

        def in_torch(pixels: np.ndarray) -> None:
            with torch.inference_mode():
                for c in pixels:
                    tower.encoder(inputs_embeds=tower.embeddings(torch.from_numpy(c[None])))

        settings["torch"] = in_torch
    return settings


def measure_trunk(args: argparse.Namespace, shapes: Shapes, folder: Path) -> dict[str, list]:
    rng = np.random.default_rng(0)
    pixels = rng.standard_normal((args.crops, 3, shapes.image_size, shapes.image_size))
    pixels = pixels.astype(np.float32)
    settings = trunk_settings(folder / "trunk.onnx", shapes, args.threads, args.crops,
                              torch_too=not args.skip_torch)  # fmt: skip
    for run in settings.values():  # warm-up: first-run allocations and kernels
        run(pixels[:1])
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    for repeat in range(args.repeat):
        for name, run in settings.items():
            start = time.perf_counter()
            run(pixels)
            seconds[name].append((time.perf_counter() - start) / args.crops)
            say(f"  S² trunk {name:13} repeat {repeat + 1}: {seconds[name][-1]:.2f} s per crop")
    return seconds


# --- llama.cpp -------------------------------------------------------------------------

LLAMA_SETTINGS: dict[str, dict[str, Any]] = {
    "app": {},
    "flash-attn": {"flash_attn": True},
    "batch-1024": {"n_batch": 1024, "n_ubatch": 1024},
    "batch-256": {"n_batch": 256, "n_ubatch": 256},
    "ubatch-256": {"n_ubatch": 256},  # n_batch stays 512: the S² rows go in two calls
    "batch-128": {"n_batch": 128, "n_ubatch": 128},
    "flash+q8_0-kv": {"flash_attn": True, "type_k": 8, "type_v": 8},  # GGML_TYPE_Q8_0
}


def llama_once(model: Path, args: argparse.Namespace, overrides: dict[str, Any]) -> tuple:
    """(prefill seconds, seconds per decode step, the greedy tokens) for one setting."""
    import llama_cpp

    from jradi_desktop.inference import load_llama

    llm = load_llama(model, n_ctx=args.context, n_threads=args.threads,
                     n_threads_batch=args.threads, seed=0, verbose=False,
                     **overrides)  # fmt: skip
    try:
        rng = np.random.default_rng(0)  # ids below the control block: ordinary tokens
        prompt = [llm.token_bos(), *rng.integers(0, llm.token_bos(), args.positions - 1).tolist()]
        llm.eval(prompt[:8])  # warm-up: graphs and buffers
        llm.reset()
        start = time.perf_counter()
        llm.eval(prompt)
        prefill = time.perf_counter() - start
        tokens: list[int] = []
        start = time.perf_counter()
        for _ in range(args.steps):
            last = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            token = int(np.argmax(np.ctypeslib.as_array(last, shape=(llm.n_vocab(),))))
            tokens.append(token)
            llm.eval([token])
        step = (time.perf_counter() - start) / args.steps
    finally:
        llm.close()
    return prefill, step, tokens


def measure_llama(args: argparse.Namespace, model: Path) -> dict[str, dict[str, list]]:
    names = ["app", *(n for n in (args.settings or "").split(",") if n and n != "app")]
    chosen = {n: LLAMA_SETTINGS[n] for n in names} if args.settings else LLAMA_SETTINGS
    out: dict[str, dict[str, list]] = {n: {"prefill": [], "step": []} for n in chosen}
    reference: list[int] | None = None
    for repeat in range(args.repeat):
        for name, overrides in chosen.items():
            prefill, step, tokens = llama_once(model, args, overrides)
            out[name]["prefill"].append(prefill)
            out[name]["step"].append(step)
            if name == "app" and reference is None:
                reference = tokens
            same = sum(a == b for a, b in zip(tokens, reference or [], strict=False))
            out[name]["same"] = [same]
            say(f"  llama {name:14} repeat {repeat + 1}: prefill {prefill:.1f} s "
                f"({args.positions / prefill:.1f} tok/s), decode {1 / step:.2f} tok/s, "
                f"greedy tokens as the app's: {same}/{len(tokens)}")  # fmt: skip
    return out


# --- report ----------------------------------------------------------------------------


def table(args: argparse.Namespace, trunk: dict[str, list], llama: dict[str, dict]) -> None:
    import llama_cpp
    import onnxruntime

    say("")
    say(f"llama-cpp-python {llama_cpp.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{args.threads} thread(s), {args.repeat} repeat(s), medians")  # fmt: skip
    if trunk:
        base = statistics.median(trunk["app"])
        say(f"{'S² trunk setting':16} {'s/crop':>8} {'s/image (x14)':>14} {'speed vs app':>13}")
        for name, values in trunk.items():
            median = statistics.median(values)
            say(f"{name:16} {median:8.2f} {median * 14:14.1f} {base / median:13.3f}")
    if llama:
        app = llama["app"]
        p0, s0 = statistics.median(app["prefill"]), statistics.median(app["step"])
        say(f"{'llama.cpp setting':16} {'prefill s':>10} {'tok/s':>7} {'vs app':>7} "
            f"{'decode tok/s':>13} {'vs app':>7} {'same tokens':>12}")  # fmt: skip
        for name, v in llama.items():
            p, s = statistics.median(v["prefill"]), statistics.median(v["step"])
            say(f"{name:16} {p:10.1f} {args.positions / p:7.1f} {p0 / p:7.3f} {1 / s:13.2f} "
                f"{s0 / s:7.3f} {v['same'][0]:>9}/{args.steps}")  # fmt: skip


def main() -> int:
    import psutil

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=psutil.cpu_count(logical=False) or 1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--crops", type=int, default=3, help="crops per S² measurement")
    parser.add_argument("--positions", type=int, default=905, help="prompt positions")
    parser.add_argument("--steps", type=int, default=32, help="decode steps")
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--only", choices=("s2", "llama"))
    parser.add_argument("--settings", help="comma-separated llama.cpp settings (app first)")
    parser.add_argument("--skip-torch", action="store_true", help="no torch trunk")
    parser.add_argument("--tiny", action="store_true", help="tiny widths: checks the script")
    args = parser.parse_args()

    shapes = TINY if args.tiny else REAL
    build = build_clinician_model(args.model_dir, shapes, fp16=False, threads=args.threads,
                                  log=say)  # fmt: skip
    if args.tiny:
        args.positions = min(args.positions, 64)
    trunk = measure_trunk(args, shapes, build.vision) if args.only != "llama" else {}
    llama = measure_llama(args, build.model) if args.only != "s2" else {}
    table(args, trunk, llama)
    return 0


if __name__ == "__main__":
    sys.exit(main())
