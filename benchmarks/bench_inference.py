"""Generation through the worker process vs llama-cpp-python called directly, same model and
prompt, measured in the same run.

    .venv/bin/python benchmarks/bench_inference.py [--repeats 15] [--max-tokens 200]
                                                   [--threads 1] [--model PATH.gguf]

Without --model it builds the demo models and exports the base LM to f32 GGUF in a temp dir
(a few seconds). Each repeat runs, interleaved, greedy with the same chat prompt:

- direct:         ``Llama.create_chat_completion(stream=False)``, the plain llama-cpp-python call;
- direct stream:  the same with ``stream=True`` (shown for reference);
- backend:        ``GGUFBackend.generate`` in this process;
- worker:         ``InferenceWorker.generate``, the model in a child process.

Reported: median tokens/s of each (tokens as each path counts them), the worker/direct ratio
(goal >= 0.95), and the worker's first-token overhead: median time to its first piece minus
the in-process backend's (goal <= 50 ms). The demo model is tiny (a token takes ~0.1 ms), so
these figures are a worst case for the worker's per-token cost; with an 8B model a token takes
tens of milliseconds and the same fixed costs vanish in it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jradi_desktop.inference import GenerationParams, InferenceWorker, create_backend
from jradi_desktop.models import ModelSpec

GOAL_RATIO = 0.95
GOAL_OVERHEAD_MS = 50.0
# A prompt on which the demo model (random weights) runs to the token limit.
MESSAGES = [{"role": "user", "content": "こんにちは"}]


def demo_gguf(out: Path) -> Path:
    from engine.demo import build_demo_models
    from engine.export import export_gguf

    build_demo_models(out / "demo", seed=0)
    return export_gguf(out / "demo" / "base", out / "gguf", "f32").model


def time_direct(llm: object, max_tokens: int, stream: bool) -> tuple[float, float, int]:
    """(seconds, seconds to first piece, tokens) of one direct call."""
    start = time.perf_counter()
    first = None
    if stream:
        tokens = 0
        for chunk in llm.create_chat_completion(
            messages=MESSAGES,
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=1.0,
            stream=True,
        ):
            if chunk["choices"][0]["delta"].get("content"):
                first = first or time.perf_counter()
                tokens += 1  # a chunk per decoded piece: at most one per token
    else:
        out = llm.create_chat_completion(
            messages=MESSAGES, max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0
        )
        tokens = out["usage"]["completion_tokens"]
    end = time.perf_counter()
    return end - start, (first or end) - start, tokens


def time_stream(source: object, params: GenerationParams) -> tuple[float, float, int]:
    """(seconds, seconds to first piece, tokens) of one backend or worker generation."""
    start = time.perf_counter()
    first = None
    for _ in source.generate(MESSAGES, (), params):
        first = first or time.perf_counter()
    end = time.perf_counter()
    return end - start, (first or end) - start, source.generated_tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the demo base LM)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="jradi-bench-") as tmp:
        model = args.model or demo_gguf(Path(tmp))
        spec = ModelSpec("bench", "gguf", model, threads=args.threads, context=2048)
        params = GenerationParams(max_new_tokens=args.max_tokens)

        from llama_cpp import Llama

        llm = Llama(
            str(model),
            n_ctx=spec.context,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            verbose=False,
        )
        backend = create_backend(spec)
        worker = InferenceWorker(spec)
        started = time.perf_counter()
        worker.wait_ready()
        print(f"model {model.name}: worker ready in {time.perf_counter() - started:.2f} s")

        runs: dict[str, list[tuple[float, float, int]]] = {
            "direct": [],
            "direct stream": [],
            "backend": [],
            "worker": [],
        }
        try:
            for repeat in range(args.repeats + 1):  # the first round warms up, not counted
                results = {
                    "direct": time_direct(llm, args.max_tokens, stream=False),
                    "direct stream": time_direct(llm, args.max_tokens, stream=True),
                    "backend": time_stream(backend, params),
                    "worker": time_stream(worker, params),
                }
                if repeat:
                    for name, result in results.items():
                        runs[name].append(result)
        finally:
            worker.close()
            backend.close()
            llm.close()

    def rate(name: str) -> float:
        return statistics.median(tokens / seconds for seconds, _, tokens in runs[name])

    def first_ms(name: str) -> float:
        return 1000 * statistics.median(first for _, first, _ in runs[name])

    print(
        f"{args.repeats} repeats, max {args.max_tokens} new tokens, greedy, "
        f"{args.threads} thread(s); medians:"
    )
    for name in runs:
        tokens = statistics.median(t for _, _, t in runs[name])
        print(
            f"  {name:<14} {rate(name):9.0f} tokens/s   first piece {first_ms(name):7.2f} ms"
            f"   ({tokens:.0f} tokens)"
        )
    print(f"worker / in-process backend tokens/s: {rate('worker') / rate('backend'):.3f}")
    ratio = rate("worker") / rate("direct")
    overhead = first_ms("worker") - first_ms("backend")
    ok_ratio, ok_overhead = ratio >= GOAL_RATIO, overhead <= GOAL_OVERHEAD_MS
    print(
        f"worker / direct tokens/s: {ratio:.3f} (goal >= {GOAL_RATIO}) "
        f"{'OK' if ok_ratio else 'MISSED'}"
    )
    print(
        f"worker first-token overhead: {overhead:.2f} ms (goal <= {GOAL_OVERHEAD_MS:.0f} ms) "
        f"{'OK' if ok_overhead else 'MISSED'}"
    )
    return 0 if ok_ratio and ok_overhead else 1


if __name__ == "__main__":
    raise SystemExit(main())
