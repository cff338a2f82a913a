"""Model folders opened for merging: the engine's checkpoint reader, language tower required.

Each family stores its language tower under its own keys (a LLaVA saved by transformers 5
under one prefix, by other writers under another; a Bunny under the Llama's own names beside
its vision tower and projector). The architecture registry maps every key to its part and
canonical name; the merge works on canonical (Llama) names, and ``Checkpoint.stored`` keeps
each tensor's file and key so the splice can write a VLM back in the scheme it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._checkpoint import Checkpoint, open_checkpoint
from engine.merge._errors import MergeError
from jradi_desktop.architectures import Architecture, from_keys, supported

if TYPE_CHECKING:
    import torch


def open_model_folder(folder: str | Path) -> Checkpoint:
    """Open a folder of a family the registry runs (a Llama or a VLM with a Llama tower) for
    merging; refuse anything else with the reason."""
    checkpoint = open_checkpoint(folder, MergeError, "cannot be merged")
    if not checkpoint.language:
        raise MergeError(
            f"{checkpoint.folder}: no language-model tensors found for a "
            f"{checkpoint.architecture.description}. Supported: {supported()}."
        )
    return checkpoint


def language_targets(
    state: Mapping[str, torch.Tensor], architecture: Architecture | None = None
) -> dict[str, str]:
    """Map canonical names to the keys of a live model's (or a dict's) language tensors.

    ``architecture`` defaults to the registry's guess from the keys (``from_keys``): a live
    LLaVA's in-memory names, or a Llama's own (a live Bunny's ``LlamaForCausalLM``).
    """
    architecture = architecture or from_keys(state)
    out = {}
    for key in state:
        name = architecture.language_name(key)
        if name is not None:
            out[name] = key
    return out


def merge_targets(target: Any, base: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of ``target`` (a module or a state dict, canonical names or a live model's
    own) that a merge of ``base``'s tensors writes, by canonical name; each checked to have
    the base's shape and to be contiguous, so it can be written in place."""
    import torch

    state = target.state_dict() if isinstance(target, torch.nn.Module) else target
    keys = {n: n for n in base if n in state}
    if len(keys) < len(base):  # a live model's own names (e.g. a LLaVA's)
        keys = language_targets(state)
    missing = [n for n in base if n not in keys]
    if missing:
        raise MergeError(
            f"the target has no tensor for {len(missing)} merged parameters "
            f"(first: {missing[0]!r}); give a model of the base's architecture."
        )
    out = {}
    for name, want in base.items():
        t = state[keys[name]]
        if tuple(t.shape) != tuple(want.shape) or not t.is_contiguous():
            raise MergeError(
                f"target tensor {keys[name]!r} has shape {list(t.shape)}; the base's "
                f"{name!r} has {list(want.shape)} (and it must be contiguous)."
            )
        out[name] = t
    return out
