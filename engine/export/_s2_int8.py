"""An int8 S² trunk, offered only where it is shown to agree with fp32 on real images.

ONNX Runtime's dynamic int8 quantisation (per-channel weights) makes the SigLIP trunk about 3x
faster on a CPU (README, "Measured here"), but its rows go straight into the language model
as embeddings: a small error there could change the report. So the export measures it on the
dev set's own images with the model's real weights, against the fp32 trunk: the smallest
cosine between an int8 row and its fp32 row, and whether each greedy report through the GGUF
backend is identical. The numbers go into ``manifest.json`` (``int8``); the runtime uses the
int8 trunk only when they pass ``INT8_MIN_ROW_COSINE`` and every report is identical
(``VisionManifest.runtime_trunk``), and says which trunk it runs.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.errors import ExportError
from jradi_desktop.architectures.bunny_s2 import (
    Int8Agreement,
    S2VisionEncoder,
    read_manifest,
)

INT8_TRUNK = "trunk.int8.onnx"
REPORT_TOKENS = 64  # enough of each report to see a changed token


def _quantize(fp32_trunk: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    large = fp32_trunk.with_name(fp32_trunk.name + ".data").is_file()
    quantize_dynamic(str(fp32_trunk), str(target), weight_type=QuantType.QInt8,
                     per_channel=True, use_external_data_format=large)  # fmt: skip


def _row_cosine_min(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = (a64 * b64).sum(1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))
    return float(cos.min())


def add_int8_trunk(
    checkpoint: Path, model: Path, vision: Path, images: Sequence[Path], threads: int | None = None
) -> Int8Agreement:
    """Write ``vision/trunk.int8.onnx`` (quantised from the fp32 trunk: ``vision``'s own, or
    an fp32 export of ``checkpoint``'s for an fp16 folder), measure it against fp32 on
    ``images`` and record the agreement in the manifest."""
    from engine.export._s2_vision import export_s2_vision
    from jradi_desktop.imaging import open_image, to_model_rgb
    from jradi_desktop.inference import GenerationParams, create_backend, to_pil
    from jradi_desktop.models import ModelSpec
    from jradi_desktop.pipeline import generate_report

    if not images:
        raise ExportError("the int8 check needs the dev set's images (none were given)")
    manifest = read_manifest(vision)
    xrays = [open_image(p) for p in images]
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=vision.parent) as tmp:
        fp32 = vision  # an fp32 export is its own reference; an fp16 one needs an fp32 trunk
        if manifest.dtype != "float32":
            fp32 = Path(tmp) / "fp32"
            export_s2_vision(checkpoint, fp32, outtype="f32",
                             model_fingerprint=manifest.model_fingerprint)  # fmt: skip
        _quantize(fp32 / "trunk.onnx", fp32 / INT8_TRUNK)
        pictures = [to_pil(to_model_rgb(x)) for x in xrays]
        reference = S2VisionEncoder(fp32, threads)
        quantised = S2VisionEncoder(fp32, threads, trunk=INT8_TRUNK)
        cosine = min(_row_cosine_min(reference.encode(p), quantised.encode(p)) for p in pictures)
        params = GenerationParams(max_new_tokens=REPORT_TOKENS)
        spec = ModelSpec("int8-check", "gguf", model, fp32, threads=threads)
        with create_backend(spec) as backend:
            texts = [generate_report(backend, x, model_name="check", params=params).text
                     for x in xrays]  # fmt: skip
            backend.use_vision_trunk(INT8_TRUNK)
            identical = sum(
                generate_report(backend, x, model_name="check", params=params).text == text
                for x, text in zip(xrays, texts, strict=True)
            )
        if fp32 != vision:
            for part in fp32.glob(INT8_TRUNK + "*"):  # the graph and its external data
                shutil.copy2(part, vision / part.name)
    agreement = Int8Agreement(INT8_TRUNK, len(images), cosine, identical)
    dataclasses.replace(manifest, int8=agreement).write()
    return agreement
