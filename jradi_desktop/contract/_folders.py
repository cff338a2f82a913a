"""Where a model's vision part sits beside its GGUF (what the exporter writes)."""

from __future__ import annotations

from pathlib import Path

MODEL_GGUF = "model.gguf"
MMPROJ_GGUF = "mmproj.gguf"
VISION_DIR = "vision"  # Bunny-v1.1's S² vision encoder (ONNX + projector)
VISION_MANIFEST = "manifest.json"


def find_mmproj(model: str | Path) -> Path | None:
    """The vision encoder beside a GGUF model: an S² vision folder ``vision/`` (Bunny-v1.1,
    with its ``manifest.json``), else the first ``mmproj*.gguf`` (LLaVA/CLIP).

    The exporter writes ``model.gguf`` + ``vision/`` or ``mmproj.gguf`` side by side;
    ``jradi report --model X.gguf``, ``jradi models add`` and the model manager all look here,
    and an explicit ``--mmproj`` always wins.
    """
    model = Path(model)
    if (model.parent / VISION_DIR / VISION_MANIFEST).is_file():
        return model.parent / VISION_DIR
    found = sorted(p for p in model.parent.glob("mmproj*.gguf") if p.name != model.name)
    return found[0] if found else None
