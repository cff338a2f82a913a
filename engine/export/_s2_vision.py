"""A Bunny folder's image path for the torch-free runtime: the SigLIP trunk (embeddings and
the layers up to the one Bunny reads) as ONNX, the projector as ``projector.npz`` and a
manifest (``jradi_desktop.architectures.bunny_s2``'s ONNX runtime reads them).

Only the vision and projector tensors are read, one at a time from the shards.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine._checkpoint import Checkpoint, open_checkpoint
from engine.errors import ExportError
from jradi_desktop.architectures.bunny_s2 import (
    MEAN,
    PAD_COLOUR,
    STD,
    BunnyConfigError,
    VisionManifest,
    vision_settings,
)

if TYPE_CHECKING:
    import torch

OUTTYPES = {"f16": "float16", "f32": "float32"}


def _image_path_tensors(
    ckpt: Checkpoint,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(vision, projector) tensors by canonical name, as float32, one at a time."""
    vision, projector = (
        {name: t.float() for name, t in ckpt.tensors(part).items()}
        for part in ("vision", "projector")
    )
    return vision, projector


def export_s2_vision(
    folder: Path,
    out: Path,
    *,
    outtype: str = "f16",
    embedding_width: int | None = None,
    model_fingerprint: str | None = None,
) -> VisionManifest:
    """Write ``out/trunk.onnx`` (+ data), ``out/projector.npz`` and ``out/manifest.json``
    (recording ``model_fingerprint``, the ``model.gguf`` it belongs to, when given)."""
    import torch

    from jradi_desktop.architectures.bunny_s2 import vision_trunk

    if outtype not in OUTTYPES:
        raise ExportError(f"vision outtype {outtype!r}; valid: {', '.join(OUTTYPES)}")
    ckpt = open_checkpoint(folder, ExportError)  # names a missing shard
    vision, projector = _image_path_tensors(ckpt)
    try:
        settings = vision_settings(ckpt.config, {k: tuple(v.shape) for k, v in vision.items()})
        trunk = vision_trunk(settings, vision, dtype=torch.float32)
    except BunnyConfigError as exc:
        raise ExportError(f"{folder}: {exc}") from exc
    width = embedding_width or int(projector["2.weight"].shape[0])
    out.mkdir(parents=True, exist_ok=True)
    dtype = OUTTYPES[outtype]
    _export_trunk(trunk.to(getattr(torch, dtype)), settings.image_size, out / "trunk.onnx")
    np.savez(
        out / "projector.npz", **{k: v.numpy().astype(np.float32) for k, v in projector.items()}
    )
    manifest = VisionManifest(
        folder=out,
        scales=settings.scales,
        image_size=settings.image_size,
        tokens=settings.grid * settings.grid,
        vision_width=settings.width,
        embedding_width=width,
        pad_colour=PAD_COLOUR,
        mean=MEAN,
        std=STD,
        trunk_layers=settings.trunk_layers,
        trunk="trunk.onnx",
        projector="projector.npz",
        dtype=dtype,
        model_fingerprint=model_fingerprint,
    )
    manifest.write()
    return manifest


def _export_trunk(model: torch.nn.Module, size: int, path: Path) -> None:
    import torch

    class Trunk(torch.nn.Module):
        """Crops -> the last trunk layer's rows (before post_layernorm: hidden_states[-2] of
        the whole tower)."""

        def __init__(self, vision: torch.nn.Module) -> None:
            super().__init__()
            self.embeddings, self.encoder = vision.embeddings, vision.encoder

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.encoder(inputs_embeds=self.embeddings(pixels)).last_hidden_state

    dtype = next(model.parameters()).dtype
    example = torch.zeros(2, 3, size, size, dtype=dtype)
    crops = torch.export.Dim("crops", min=1, max=64)
    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed" for every op
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _onnx_export(Trunk(model).eval(), example, crops, path)
    finally:
        quiet.setLevel(level)


def _onnx_export(model: torch.nn.Module, example: torch.Tensor, crops: object, path: Path) -> None:
    import torch

    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["pixels"],
            output_names=["rows"],
            dynamic_shapes={"pixels": {0: crops}},
            dynamo=True,
            external_data=True,
            verbose=False,
        )
    _strip_trace_metadata(path)


def _strip_trace_metadata(path: Path) -> None:
    """Drop the exporter's per-node stack traces (source paths and line numbers of this
    checkout), so the same weights export to the same bytes wherever the engine runs."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for graph in [model.graph, *model.functions]:
        for node in graph.node:
            del node.metadata_props[:]
    onnx.save(model, str(path))
