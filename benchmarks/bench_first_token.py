"""Time to the first token of a report on the demo models: the Bunny GGUF with its S² vision
folder (ONNX Runtime rows decoded as embeddings) against the LLaVA GGUF with llama-cpp-python's
own mtmd path, in the same run.

    .venv/bin/python benchmarks/bench_first_token.py [--repeat 5] [--threads 2]

Both demo VLMs are built untrained (same seed, same language tower sizes) and exported to f16;
each request is a report on a new image (so nothing is cached), then the same image again
(Bunny: its rows come from the cache; LLaVA: mtmd encodes again). Prints the median seconds.
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


def first_token(backend: object, image: object) -> float:
    from jradi_desktop.inference import GenerationParams, build_report_messages

    start = time.perf_counter()
    stream = backend.generate(build_report_messages(), [image], GenerationParams(8))
    next(stream)
    elapsed = time.perf_counter() - start
    for _ in stream:
        pass
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    from engine.demo import build_demo_models
    from engine.export import export_gguf
    from jradi_desktop.inference import create_backend
    from jradi_desktop.models import ModelSpec

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (512, 512, 3), np.uint8))
              for _ in range(args.repeat + 1)]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for vlm in ("bunny", "llava"):
            models = build_demo_models(tmp / vlm, seed=0, vlm=vlm)
            exported = export_gguf(models / "vlm", tmp / f"{vlm}-gguf", "f16")
            spec = ModelSpec(vlm, "gguf", exported.model, exported.mmproj, threads=args.threads)
            with create_backend(spec) as backend:
                first_token(backend, images[-1])  # warm-up: sessions, graphs
                new = [first_token(backend, image) for image in images[:-1]]
                same = [first_token(backend, images[0]) for _ in range(args.repeat)]
            rows.append((vlm, statistics.median(new), statistics.median(same)))
    print(f"time to first token of a report, demo models, {args.threads} thread(s), "
          f"median of {args.repeat}")  # fmt: skip
    print(f"{'model':34} {'new image':>10} {'same image':>11}")
    names = {"bunny": "Bunny GGUF + S² (ONNX Runtime)", "llava": "LLaVA GGUF + mmproj (mtmd)"}
    for vlm, new, same in rows:
        print(f"{names[vlm]:34} {new * 1000:8.1f} ms {same * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
