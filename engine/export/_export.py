"""The export job: checks, language model, mmproj, quantisation, manifest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from engine._hf_folder import check_weights_match_config
from engine.errors import ExportError
from engine.events import Event
from engine.export._checkpoint import Checkpoint, open_checkpoint
from engine.export._llama import OUTTYPES, llama_params, write_llama_gguf
from engine.export._mmproj import mmproj_params, write_mmproj_gguf
from engine.export._quantize import QUANT_TYPES, quantize_gguf

MANIFEST = "export.json"


@dataclass(frozen=True)
class ExportResult:
    model: Path
    mmproj: Path | None
    outtype: str
    quantization: str | None


def check_checkpoint(ckpt: Checkpoint) -> None:
    """Every config value the GGUF files need, typed, and the config against the tensors'
    shapes (safetensors headers): a mismatch would write a GGUF that llama.cpp cannot load."""
    llama_params(ckpt)
    if ckpt.kind == "llava":
        mmproj_params(ckpt)
    check_weights_match_config(ckpt.config, ckpt.files(), ExportError)


def iter_export_gguf(
    model_dir: str | Path,
    out_dir: str | Path,
    outtype: str = "f16",
    quantize: str | None = None,
) -> Iterator[Event]:
    """Export ``model_dir`` to ``out_dir/model.gguf`` (+ ``mmproj.gguf`` for a VLM)."""
    if outtype not in OUTTYPES:
        raise ExportError(f"outtype {outtype!r} is not supported; choose one of {list(OUTTYPES)}.")
    if quantize is not None and quantize not in QUANT_TYPES:
        raise ExportError(
            f"quantisation {quantize!r} is not supported; choose one of {QUANT_TYPES}."
        )
    ckpt = open_checkpoint(model_dir)
    check_checkpoint(ckpt)  # nothing is written for a folder that cannot give a loadable GGUF
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = 1 + (ckpt.kind == "llava") + (quantize is not None)
    step = 1
    model_path = out / "model.gguf"
    # Written under a temporary name and renamed, so a killed export leaves no half file.
    partial = out / f"model.{outtype}.partial.gguf"
    yield Event("export-gguf", "progress", f"language model ({outtype})", step, steps)
    write_llama_gguf(ckpt, partial, outtype)
    if quantize:
        step += 1
        yield Event("export-gguf", "progress", f"quantising to {quantize}", step, steps)
        quantized = out / f"model.{quantize}.partial.gguf"
        quantize_gguf(partial, quantized, quantize)
        partial.unlink()
        partial = quantized
    os.replace(partial, model_path)
    mmproj_path = None
    if ckpt.kind == "llava":
        step += 1
        yield Event("export-gguf", "progress", "vision encoder + projector (mmproj)", step, steps)
        mmproj_path = out / "mmproj.gguf"
        partial = out / "mmproj.partial.gguf"
        write_mmproj_gguf(ckpt, partial, "f32" if outtype == "f32" else "f16")
        os.replace(partial, mmproj_path)
    result = ExportResult(model_path, mmproj_path, outtype, quantize)
    manifest = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}
    manifest["source"] = str(Path(model_dir).resolve())
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    yield Event("export-gguf", "result", f"exported to {out}", steps, steps, manifest)


def export_gguf(
    model_dir: str | Path, out_dir: str | Path, outtype: str = "f16", quantize: str | None = None
) -> ExportResult:
    """Run the export job to its end and return where the files are."""
    for event in iter_export_gguf(model_dir, out_dir, outtype, quantize):
        if event.kind == "result":
            data = event.data
            return ExportResult(
                Path(data["model"]),
                Path(data["mmproj"]) if data["mmproj"] else None,
                data["outtype"],
                data["quantization"],
            )
    raise ExportError(f"{model_dir}: export ended without a result.")  # pragma: no cover
