"""Where a model's vision part sits beside its GGUF (what the exporter writes)."""

from __future__ import annotations

import hashlib
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


_HEAD = 4 * 1024**2  # a GGUF's header, metadata and tensor table, with room to spare
_BLOCKS, _BLOCK = 64, 64 * 1024


def model_fingerprint(model: str | Path) -> str:
    """What ties a vision part to the ``model.gguf`` it was exported with: a SHA-256 of the
    file's size, its first 4 MiB (header, metadata, tensor table) and 64 blocks of 64 KiB
    spread over the rest. Reads ~8 MiB whatever the model's size (a full hash of a 5 GB file
    would add seconds to every load); another export, quantisation or model differs in its
    header or in the sampled weights. ``sampled-sha256:`` prefixes the hex digest."""
    path = Path(model)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_HEAD))
        if size > _HEAD:
            step = max((size - _HEAD) // _BLOCKS, 1)
            for offset in range(_HEAD, size, step):
                handle.seek(offset)
                digest.update(handle.read(_BLOCK))
    return "sampled-sha256:" + digest.hexdigest()
