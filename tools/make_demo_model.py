"""Regenerate the bundled demo model, ``resources/demo-model/`` (model.gguf + vision/).

    .venv/bin/python tools/make_demo_model.py      # needs the engine extra (torch)

Runs exactly the two commands its README names, in a temporary folder, with seed 0:

    jradi-engine demo-models WORK/hf --vlm bunny --trained --seed 0
    jradi-engine export-gguf WORK/hf/vlm WORK/gguf --outtype f16

then copies ``model.gguf`` and ``vision/`` (ONNX trunk + external data, projector, manifest)
over the shipped ones. The model has random weights trained briefly on a built-in text: it is
for trying the app, not for clinical use (臨床使用不可).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "demo-model"
SEED = "0"


def engine(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "engine.cli", *args], check=True, cwd=ROOT)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="jradi-demo-model-") as tmp:
        work = Path(tmp)
        engine("demo-models", str(work / "hf"), "--vlm", "bunny", "--trained", "--seed", SEED)
        engine("export-gguf", str(work / "hf" / "vlm"), str(work / "gguf"), "--outtype", "f16")
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "model.gguf").unlink(missing_ok=True)
        shutil.rmtree(OUT / "vision", ignore_errors=True)
        shutil.copy2(work / "gguf" / "model.gguf", OUT / "model.gguf")
        shutil.copytree(work / "gguf" / "vision", OUT / "vision")
    for path in sorted(p for p in OUT.rglob("*") if p.is_file()):
        print(f"{path.stat().st_size:>9}  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
