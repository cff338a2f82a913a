"""The export job: checks, language model, vision encoder, quantisation, manifest.

The language tower becomes ``model.gguf`` whatever the family (a VLM's vision tower and
projector are not in it). The image path is the :class:`VisionExport` the family's ``export``
hook names:

- ``llava_clip``: ``CLIP_EXPORT``, ``mmproj.gguf``, llama.cpp's own CLIP encoder + projector;
- ``bunny_s2``: ``S2_EXPORT``, ``vision/``, the SigLIP trunk as ONNX + ``projector.npz`` + a
  manifest (llama.cpp has no S²; the GGUF backend runs it in ONNX Runtime and decodes the rows
  as embeddings), optionally with an int8 trunk;
- ``llama``: nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from engine._checkpoint import Checkpoint, open_checkpoint
from engine._hf_folder import check_weights_match_config
from engine.errors import ExportError
from engine.export._llama import OUTTYPES, llama_params, write_llama_gguf
from engine.export._mmproj import mmproj_params, write_mmproj_gguf
from engine.export._quantize import QUANT_TYPES, quantize_gguf
from engine.export._staging import staged_folder
from jradi_desktop.contract import (
    LOG,
    MMPROJ_GGUF,
    MODEL_GGUF,
    PROGRESS,
    RESULT,
    VISION_DIR,
    Event,
    model_fingerprint,
)

MANIFEST = "export.json"


@dataclass(frozen=True)
class ExportResult:
    model: Path
    mmproj: Path | None  # mmproj.gguf (LLaVA/CLIP) or the vision/ folder (Bunny)
    outtype: str
    quantization: str | None


def _check_clip(ckpt: Checkpoint) -> None:
    mmproj_params(ckpt)


def _write_clip(ckpt: Checkpoint, out: Path, outtype: str) -> Path:
    """LLaVA/CLIP: ``mmproj.gguf``."""
    path = out / MMPROJ_GGUF
    write_mmproj_gguf(ckpt, path, outtype)
    return path


def _check_s2(ckpt: Checkpoint) -> None:
    """Bunny's vision encoder is exported with torch.onnx (dynamo): onnx and onnxscript."""
    import importlib.util

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(
            f"{ckpt.folder}: exporting Bunny's vision encoder to ONNX needs {', '.join(missing)}, "
            "which is not installed; install the engine extra: pip install -e '.[engine]'."
        )


def _write_s2(ckpt: Checkpoint, out: Path, outtype: str) -> Path:
    """Bunny: ``vision/`` (trunk ONNX, projector.npz, manifest recording the fingerprint of
    the ``model.gguf`` beside it)."""
    from engine.export._s2_vision import export_s2_vision

    path = out / VISION_DIR
    export_s2_vision(
        ckpt.folder, path, outtype=outtype, model_fingerprint=model_fingerprint(out / MODEL_GGUF)
    )
    return path


@dataclass(frozen=True)
class VisionExport:
    """A family's image path beside ``model.gguf`` (its ``export`` hook)."""

    check: Callable[[Checkpoint], None]  # before anything is written
    write: Callable[[Checkpoint, Path, str], Path]  # (checkpoint, out folder, outtype) -> path
    what: str  # for the progress line
    int8: bool = False  # can add an int8 vision trunk (``_s2_int8``)


CLIP_EXPORT = VisionExport(_check_clip, _write_clip, "mmproj")
S2_EXPORT = VisionExport(_check_s2, _write_s2, "ONNX trunk + projector for the S² path", int8=True)


def _vision(ckpt: Checkpoint) -> VisionExport | None:
    """The family's vision export; None for a family without an image path."""
    arch = ckpt.architecture
    return arch.hook("export") if arch.has_vision else None


def check_checkpoint(ckpt: Checkpoint) -> None:
    """Every config value the files need, typed, and the config against the tensors' shapes
    (safetensors headers; for Bunny also its vision settings and projector): a mismatch would
    write files that cannot load."""
    llama_params(ckpt)
    vision = _vision(ckpt)
    if vision is not None:
        vision.check(ckpt)
    check_weights_match_config(ckpt.config, ckpt.files, ExportError)


def iter_export_gguf(
    model_dir: str | Path,
    out_dir: str | Path,
    outtype: str = "f16",
    quantize: str | None = None,
    int8_images: Sequence[Path] = (),
) -> Iterator[Event]:
    """Export ``model_dir`` to ``out_dir/model.gguf`` (+ ``mmproj.gguf`` or ``vision/`` for a
    VLM, see the module's docstring). ``int8_images`` (a Bunny): also an int8 vision trunk,
    measured against fp32 on these images (``_s2_int8``)."""
    if outtype not in OUTTYPES:
        raise ExportError(f"outtype {outtype!r} is not supported; choose one of {list(OUTTYPES)}.")
    if quantize is not None and quantize not in QUANT_TYPES:
        raise ExportError(
            f"quantisation {quantize!r} is not supported; choose one of {QUANT_TYPES}."
        )
    ckpt = open_checkpoint(model_dir, ExportError)
    check_checkpoint(ckpt)  # nothing is written for a folder that cannot give a loadable GGUF
    vision_export = _vision(ckpt)
    if int8_images and not (vision_export is not None and vision_export.int8):
        raise ExportError(f"{model_dir}: an int8 vision trunk is for Bunny's S² vision folder.")
    out = Path(out_dir)
    with staged_folder(out) as stage:
        steps = 1 + (vision_export is not None) + (quantize is not None)
        step = 1
        yield Event("export-gguf", PROGRESS, f"language model ({outtype})", step, steps)
        if quantize:
            unquantized = stage / f"model.{outtype}.gguf"
            write_llama_gguf(ckpt, unquantized, outtype)
            step += 1
            yield Event("export-gguf", PROGRESS, f"quantising to {quantize}", step, steps)
            quantize_gguf(unquantized, stage / MODEL_GGUF, quantize)
            unquantized.unlink()
        else:
            write_llama_gguf(ckpt, stage / MODEL_GGUF, outtype)
        mmproj_name = None
        if vision_export is not None:
            step += 1
            what = vision_export.what
            yield Event("export-gguf", PROGRESS, f"vision encoder + projector ({what})", step,
                        steps)  # fmt: skip
            vision_outtype = "f32" if outtype == "f32" else "f16"
            mmproj_name = vision_export.write(ckpt, stage, vision_outtype).name
        if int8_images:
            from engine.export._s2_int8 import add_int8_trunk

            yield Event("export-gguf", LOG,
                        f"int8 vision trunk, checked on {len(int8_images)} image(s)")  # fmt: skip
            agreement = add_int8_trunk(ckpt.folder, stage / MODEL_GGUF, stage / VISION_DIR,
                                       int8_images)  # fmt: skip
            yield Event("export-gguf", LOG, agreement.describe())
        result = ExportResult(
            out / MODEL_GGUF, out / mmproj_name if mmproj_name else None, outtype, quantize
        )
        manifest = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}
        manifest["source"] = str(Path(model_dir).resolve())
        manifest["model_fingerprint"] = model_fingerprint(stage / MODEL_GGUF)
        (stage / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    yield Event("export-gguf", RESULT, f"exported to {out}", steps, steps, manifest)


def export_gguf(
    model_dir: str | Path,
    out_dir: str | Path,
    outtype: str = "f16",
    quantize: str | None = None,
    int8_images: Sequence[Path] = (),
) -> ExportResult:
    """Run the export job to its end and return where the files are."""
    for event in iter_export_gguf(model_dir, out_dir, outtype, quantize, int8_images):
        if event.kind == RESULT:
            data = event.data
            return ExportResult(
                Path(data["model"]),
                Path(data["mmproj"]) if data["mmproj"] else None,
                data["outtype"],
                data["quantization"],
            )
    raise ExportError(f"{model_dir}: export ended without a result.")  # pragma: no cover
