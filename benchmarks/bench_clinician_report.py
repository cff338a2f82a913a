"""How long a clinician with a CPU-only desktop waits for one real-size report, through the
path the app ships (issue #22): ``InferenceWorker`` (a child process running the GGUF
backend) with a random-weight Bunny-v1.1 at the real shapes, ``pipeline.generate_report`` on
the bundled ``chest_phantom.dcm``.

    .venv/bin/python benchmarks/bench_clinician_report.py --model-dir DIR [--tokens 256]
        [--skip-fp16] [--threads N] [--build-only] [--tiny]

``DIR`` holds the model (``_clinician_model.py``: Q4_K_M ``model.gguf`` ~4.9 GB, the S²
vision trunk in ONNX fp32 and fp16); it is built on first use (~16 GB of scratch disk, many
minutes) and reused after. Measured in the same run, phase by phase:

- model load: from ``InferenceWorker.start`` to ready (the child's own figure beside it);
- the cold report (the first after loading: S² encode, prefill, ``--tokens`` greedy tokens;
  the encode ends at the worker's last crop reported) and a redraft of the same image with an
  indication (its rows cached and its positions kept: only the text after it is evaluated).
  Random weights rarely stop early; the tokens actually made are reported; then the app's
  read-ahead of another image (as when it opens) and the first token of its report;
- S² encode of one image in this process (``S2VisionEncoder.encode``), fp32 and fp16;
- plain llama.cpp on the same GGUF (``load_llama``, same context, threads and batch): a
  prompt of as many tokens as the report's positions (``Llama.eval``), then as many greedy
  tokens (``Llama.generate``, which re-evaluates the prompt's last token, as the app does).
  Our overhead = the cold report's seconds after the encode / plain llama.cpp's prefill +
  generation.

Threads default to the physical cores. Prints a table and lines to paste into the README.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any HF import)
from benchmarks._clinician_model import REAL, TINY, Build, build_clinician_model, describe

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"


def say(line: str) -> None:
    print(line, flush=True)


def prompt_positions(build: Build, threads: int) -> dict[str, int]:
    """The report prompt's positions as ``S2Prompt.evaluate`` lays them out."""
    from jradi_desktop.architectures import IMAGE_PLACEHOLDER as IMAGE
    from jradi_desktop.inference import build_report_messages, load_llama
    from jradi_desktop.inference._gguf_s2 import S2Prompt

    llm = load_llama(build.model, n_ctx=256, n_threads=threads, verbose=False)  # mmap
    try:
        s2 = S2Prompt(llm, build.vision, threads, model=build.model)
        chunks = s2.render(build_report_messages("")).split(IMAGE)
        text = sum(len(llm.tokenize(c.encode("utf-8"), add_bos=i == 0, special=True))
                   for i, c in enumerate(chunks))  # fmt: skip
        rows = s2.encoder.manifest.tokens * (len(chunks) - 1)
    finally:
        llm.close()
    return {"text": text, "rows": rows, "total": text + rows}


REDRAFT = "右胸痛、発熱"  # the indication of the redraft: the same image, another prompt


def through_worker(build: Build, args: argparse.Namespace) -> dict[str, Any]:
    """Load, a cold report, then a redraft of the same image with an indication (the image's
    rows cached and its positions kept): each timed from the caller's side, with the time
    the worker's last S² crop was reported (the end of the encode)."""
    from jradi_desktop.inference import ENCODE, GenerationParams, InferenceWorker
    from jradi_desktop.models import ModelSpec
    from jradi_desktop.pipeline import generate_report

    spec = ModelSpec("real", "gguf", build.model, build.vision, threads=args.threads,
                     context=args.context)  # fmt: skip
    params = GenerationParams(max_new_tokens=args.tokens)
    out: dict[str, Any] = {}
    with InferenceWorker(spec) as worker:
        start = time.perf_counter()
        worker.start()
        worker.wait_ready()
        out["load"] = time.perf_counter() - start
        out["load_child"] = worker.info.get("load_seconds", float("nan"))
        say(f"model load: {out['load']:.1f} s ({worker.info.get('runtime')})")
        for run, indication in (("cold", ""), ("redraft", REDRAFT)):
            stamps: list[float] = []
            encoded = [0.0]
            start = time.perf_counter()

            def progress(phase: str, done: int, total: int, at: list = encoded,
                         start: float = start) -> None:  # fmt: skip
                if phase == ENCODE:
                    at[0] = time.perf_counter() - start

            result = generate_report(
                worker,
                SAMPLE,
                model_name=spec.name,
                indication=indication,
                params=params,
                on_piece=lambda _, note=stamps.append: note(time.perf_counter()),
                on_progress=progress,
            )
            end = time.perf_counter()
            out[run] = {"total": end - start, "first": stamps[0] - start, "last": end - stamps[0],
                        "encode": encoded[0], "tokens": worker.generated_tokens,
                        "finish": worker.finish_reason, "chars": len(result.text)}  # fmt: skip
            say(f"{run} report: {out[run]['total']:.1f} s, S² encode {encoded[0]:.1f} s, first "
                f"piece after {out[run]['first']:.1f} s, {worker.generated_tokens} tokens "
                f"({worker.finish_reason})")  # fmt: skip
        out["ahead"] = read_ahead_then_report(worker, params)
    return out


def read_ahead_then_report(worker: Any, params: Any) -> dict[str, float]:
    """What the app does when an image opens (``read_ahead``: its S² crops and the prompt up
    to the indication), then the report asked once it is done: another image (the sample
    mirrored), so that nothing of the reports before is kept."""
    import tempfile

    from PIL import ImageOps

    from jradi_desktop.imaging import open_image, to_model_rgb
    from jradi_desktop.inference import build_report_messages
    from jradi_desktop.pipeline import generate_report

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "mirrored.png"
        ImageOps.mirror(to_model_rgb(open_image(SAMPLE))).save(other)
        start = time.perf_counter()
        worker.read_ahead(build_report_messages(""), [to_model_rgb(open_image(other))])
        ahead = time.perf_counter() - start
        stamps: list[float] = []
        start = time.perf_counter()
        generate_report(worker, other, model_name="real", indication=REDRAFT, params=params,
                        on_piece=lambda _: stamps.append(time.perf_counter()))  # fmt: skip
    first = stamps[0] - start
    say(f"read-ahead of another image: {ahead:.1f} s; its report's first piece after "
        f"{first:.1f} s")  # fmt: skip
    return {"read_ahead": ahead, "first": first}


def plain_llama(build: Build, args: argparse.Namespace, positions: int, tokens: int) -> dict:
    """llama.cpp alone on the same GGUF: ``positions`` prompt tokens, ``tokens`` generated."""
    import numpy as np

    from jradi_desktop.inference import load_llama

    llm = load_llama(build.model, n_ctx=args.context, n_threads=args.threads,
                     n_threads_batch=args.threads, seed=0, verbose=False)  # fmt: skip
    try:
        rng = np.random.default_rng(0)  # ids below the control block: normal tokens
        prompt = [llm.token_bos(), *rng.integers(0, llm.token_bos(), positions - 1).tolist()]
        llm.eval(prompt[:8])  # warm-up: graphs and buffers
        llm.reset()
        start = time.perf_counter()
        llm.eval(prompt)
        prefill = time.perf_counter() - start
        say(f"plain llama.cpp prefill: {positions} tokens in {prefill:.1f} s")
        made, first = 0, float("nan")
        start = time.perf_counter()
        stream = llm.generate(prompt, temp=0.0, top_p=1.0, top_k=0, min_p=0.0,
                              repeat_penalty=1.0)  # fmt: skip
        for _ in stream:
            made += 1
            if made == 1:
                first = time.perf_counter() - start
            if made >= tokens:
                break
        stream.close()
        generate = time.perf_counter() - start
        say(f"plain llama.cpp generation: {made} tokens in {generate:.1f} s")
    finally:
        llm.close()
    return {"prefill": prefill, "generate": generate, "first": first, "tokens": made}


def s2_encode(folder: Path, threads: int) -> dict[str, float]:
    """One image through ``S2VisionEncoder`` in this process (session opened first)."""
    from jradi_desktop.architectures.bunny_s2 import S2VisionEncoder
    from jradi_desktop.imaging import open_image, to_model_rgb

    image = to_model_rgb(open_image(SAMPLE))
    encoder = S2VisionEncoder(folder, threads=threads)
    start = time.perf_counter()
    encoder.open_session()  # the session alone, so that the encode below is the image's
    session = time.perf_counter() - start
    start = time.perf_counter()
    encoder.encode(image)
    encode = time.perf_counter() - start
    say(f"S² encode {folder.name}: {encode:.1f} s (session {session:.1f} s)")
    del encoder
    gc.collect()
    return {"session": session, "encode": encode}


def report(args: argparse.Namespace, pos: dict[str, int], w: dict, plain: dict,
           s2: dict[str, dict[str, float]]) -> None:  # fmt: skip
    import llama_cpp
    import onnxruntime

    cold, redraft = w["cold"], w["redraft"]
    n = cold["tokens"]
    step = cold["last"] / max(1, n - 1)  # one generation step
    prefill = cold["first"] - cold["encode"] - step  # first piece = prefill + one step
    ours = cold["total"] - cold["encode"]  # the cold report's prefill + generation
    theirs = plain["prefill"] + plain["generate"]
    p_step = (plain["generate"] - plain["first"]) / max(1, plain["tokens"] - 1)
    rows: list[tuple[str, float, str]] = [
        ("model load (worker start -> ready)", w["load"], ""),
        ("  of which create_backend in the child", w["load_child"], ""),
    ]
    for name, figures in s2.items():
        dtype = "fp16" if name.endswith("fp16") else "fp32"
        rows.append((f"S² encode, one image, ONNX {dtype} (in-process)", figures["encode"], ""))
        rows.append((f"  ONNX Runtime session load, {dtype}", figures["session"], ""))
    rows += [
        ("S² encode in the worker (to the last crop reported)", cold["encode"], ""),
        (f"prefill, {pos['total']} positions ({pos['rows']} rows + {pos['text']} text)",
         prefill, f"{pos['total'] / prefill:.1f} positions/s"),
        ("first token, cold report (encode + prefill)", cold["first"], ""),
        ("first token, redraft with an indication (image kept)", redraft["first"], ""),
        ("read-ahead as an image opens (encode + prefill)", w["ahead"]["read_ahead"], ""),
        ("first token of its report after the read-ahead", w["ahead"]["first"], ""),
        (f"generation, {n - 1} tokens after the first", cold["last"],
         f"{(n - 1) / cold['last']:.2f} tokens/s"),
        (f"report, cold ({n} tokens, {cold['finish']})", cold["total"], ""),
        (f"report, redraft ({redraft['tokens']} tokens, {redraft['finish']})", redraft["total"],
         ""),
        ("load + cold report (the clinician's first wait)", w["load"] + cold["total"], ""),
        (f"plain llama.cpp prefill, {pos['total']} tokens", plain["prefill"],
         f"{pos['total'] / plain['prefill']:.1f} tokens/s"),
        (f"plain llama.cpp, {plain['tokens']} tokens generated", plain["generate"],
         f"{(plain['tokens'] - 1) / (plain['generate'] - plain['first']):.2f} tokens/s"),
        ("plain llama.cpp prefill + generation", theirs, ""),
    ]  # fmt: skip
    say("")
    say(f"llama-cpp-python {llama_cpp.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{args.threads} thread(s), context {args.context}, --tokens {args.tokens}, "
        f"sample {SAMPLE.name}")  # fmt: skip
    say(f"{'phase':58} {'seconds':>9}  rate")
    for label, seconds, rate in rows:
        say(f"{label:58} {seconds:9.2f}  {rate}")
    ratio = ours / theirs
    say(f"our prefill + generation / plain llama.cpp's: {ours:.1f} / {theirs:.1f} s = "
        f"{ratio:.3f} ({(ratio - 1) * 100:+.1f} %; target <= +5 %)")  # fmt: skip
    say(f"  prefill alone: {prefill / plain['prefill']:.3f}; one generation step: "
        f"{step / p_step:.3f} ({step * 1000:.0f} vs {p_step * 1000:.0f} ms)")  # fmt: skip
    say("")
    say("README lines (random-weight Bunny-v1.1, Q4_K_M + ONNX fp32, this machine):")
    fp16 = s2.get("vision-fp16")
    lines = [
        f"- Model load: {w['load']:.1f} s",
        f"- S² encode of one image: {s2['vision']['encode']:.0f} s (ONNX fp32)"
        + (f", {fp16['encode']:.0f} s (fp16)" if fp16 else ""),
        f"- Prefill: {pos['total']} positions in {prefill:.1f} s "
        f"({pos['total'] / prefill:.1f} positions/s)",
        f"- First token: {cold['first']:.0f} s after asking (image encoded); a redraft with an "
        f"indication: {redraft['first']:.1f} s; after the read-ahead of an image open for "
        f"{w['ahead']['read_ahead']:.0f} s: {w['ahead']['first']:.1f} s",
        f"- Generation: {(n - 1) / cold['last']:.2f} tokens/s",
        f"- One {n}-token report: {cold['total']:.0f} s "
        f"({w['load'] + cold['total']:.0f} s with the model load)",
        f"- Overhead over plain llama.cpp (prefill + generation): {(ratio - 1) * 100:+.1f} %",
    ]
    for line in lines:
        say(line)


def main() -> int:
    import psutil

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True,
                        help="where the model is built, or reused when complete")  # fmt: skip
    parser.add_argument("--tokens", type=int, default=256, help="max new tokens of the report")
    parser.add_argument("--skip-fp16", action="store_true", help="no fp16 vision encode")
    parser.add_argument("--threads", type=int, default=psutil.cpu_count(logical=False) or 1)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--build-only", action="store_true", help="build DIR, measure nothing")
    parser.add_argument("--tiny", action="store_true", help="tiny widths: checks the script")
    args = parser.parse_args()

    shapes = TINY if args.tiny else REAL
    build = build_clinician_model(
        args.model_dir, shapes, fp16=not args.skip_fp16, threads=args.threads, log=say
    )
    for line in describe(build):
        say(line)
    if args.build_only:
        return 0
    pos = prompt_positions(build, args.threads)
    say(f"report prompt: {pos['total']} positions ({pos['rows']} image rows + {pos['text']} "
        "text tokens)")  # fmt: skip
    worker = through_worker(build, args)
    plain = plain_llama(build, args, pos["total"], worker["cold"]["tokens"])
    s2 = {"vision": s2_encode(build.vision, args.threads)}
    if not args.skip_fp16:
        s2["vision-fp16"] = s2_encode(build.vision_fp16, args.threads)
    report(args, pos, worker, plain, s2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
