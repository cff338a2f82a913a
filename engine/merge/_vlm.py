"""A VLM's language tower out as a plain Llama folder, and a merged tower back in.

mergekit (and anything else that merges Llama checkpoints) cannot line up a VLM's language
tensors with a plain Llama's ``model.*``: a LLaVA stores them under a prefix, and a Bunny keeps
its vision tower and projector beside them. ``extract_language_tower`` writes the tower as a
Llama folder (config, safetensors, tokenizer); ``splice_language_tower`` writes a copy of the
VLM whose language tensors come from a merged tower, everything else (vision tower, projector,
config, processor, chat template, shard index) untouched, each tensor under the same key, in the
same file and dtype as in the source VLM, so the copy loads like the source (a LLaVA with
``from_pretrained``, a Bunny with ``load_bunny``). Which keys are language-tower is the
architecture registry's answer, and the tower is written as the family it declares
(``Architecture.language_tower``: a Llama).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine._checkpoint import Checkpoint
from engine.merge._errors import MergeError
from engine.merge._io import open_model_folder
from jradi_desktop.architectures import architectures, get
from jradi_desktop.atomic_file import replacing

if TYPE_CHECKING:
    import torch

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)


def _open_vlm(vlm_dir: str | Path) -> Checkpoint:
    vlm = open_model_folder(vlm_dir)
    if not vlm.architecture.has_vision:
        vlms = "; ".join(a.description for a in architectures() if a.has_vision)
        raise MergeError(
            f"{vlm.folder}: model_type {vlm.config.get('model_type')!r} is a language model "
            "without an image path, not a VLM; the language tower can only be taken out of "
            f"(and put back into) a VLM folder: {vlms}."
        )
    return vlm


def _save_atomic(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    with replacing(path, private=False) as partial:
        save_file(tensors, str(partial), metadata=metadata)


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {"format": "pt"})


def extract_language_tower(vlm_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the VLM's language tower to ``out_dir`` as a Llama folder; return ``out_dir``."""
    vlm = _open_vlm(vlm_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_file: dict[Path, list[str]] = {}
    for name, raw in vlm.language.items():
        by_file.setdefault(vlm.stored[raw][0], []).append(name)
    files = [f for f in vlm.files if f in by_file]
    weight_map: dict[str, str] = {}
    dtype = None
    for n, src in enumerate(files, start=1):
        single = len(files) == 1
        target = "model.safetensors" if single else f"model-{n:05d}-of-{len(files):05d}.safetensors"
        tensors = {name: vlm.tensor(name).contiguous() for name in by_file[src]}
        dtype = dtype or str(next(iter(tensors.values())).dtype).removeprefix("torch.")
        _save_atomic(tensors, out / target, {"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, target))
    if len(files) > 1:
        index = {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")

    tower = get(vlm.architecture.language_tower)  # the family the tower is on its own
    config = dict(vlm.llama_config)
    config["architectures"] = list(tower.classes[:1])
    config["model_type"] = tower.model_type
    config["dtype"] = dtype
    if "lm_head.weight" not in vlm.language:
        config["tie_word_embeddings"] = True
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    for name in TOKENIZER_FILES:
        if (vlm.folder / name).is_file():
            shutil.copy2(vlm.folder / name, out / name)
    return out


def splice_language_tower(
    vlm_dir: str | Path,
    tower: str | Path | Mapping[str, torch.Tensor],
    out_dir: str | Path,
) -> Path:
    """Write a copy of the VLM with its language tensors taken from ``tower``.

    ``tower`` is a Llama folder (e.g. a mergekit output) or a state dict with Llama names
    (``model.*``, ``lm_head.weight``). Every language tensor of the VLM must be there with the
    same shape; it is stored in the VLM's dtype under the VLM's key. Returns ``out_dir``.
    """
    return _write_copy(_open_vlm(vlm_dir), tower, Path(out_dir))


def write_language_copy(
    source_dir: str | Path,
    tower: str | Path | Mapping[str, torch.Tensor],
    out_dir: str | Path,
) -> Path:
    """Like ``splice_language_tower`` for any folder the merge opens (e.g. the base)."""
    return _write_copy(open_model_folder(source_dir), tower, Path(out_dir))


def _write_copy(
    source: Checkpoint, tower: str | Path | Mapping[str, torch.Tensor], out: Path
) -> Path:
    if out.resolve() == source.folder.resolve():
        raise MergeError(f"{out}: the output folder is the source model; choose another folder.")
    if isinstance(tower, Mapping):
        get, names, label = tower.__getitem__, set(tower), "the merged tower"
    else:
        folder = open_model_folder(tower)
        get, names, label = folder.tensor, set(folder.language), str(folder.folder)
    missing = sorted(set(source.language) - names)
    if missing:
        raise MergeError(
            f"{label} lacks {len(missing)} of the language tensors of {source.folder} "
            f"(first: {missing[0]!r}); merge a tower with that model's architecture."
        )

    out.mkdir(parents=True, exist_ok=True)
    weight_names = {f.name for f in source.files} | {"model.safetensors.index.json"}
    for item in source.folder.iterdir():
        if item.name in weight_names or item.suffix in WEIGHT_SUFFIXES:
            continue
        if item.is_dir():
            shutil.copytree(item, out / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, out / item.name)
    if (source.folder / "model.safetensors.index.json").is_file():
        shutil.copy2(source.folder / "model.safetensors.index.json", out)

    by_raw = {raw: name for name, raw in source.language.items()}
    for path in source.files:
        tensors = {}
        for raw, (file, _) in source.stored.items():
            if file != path:
                continue
            stored = source.raw_tensor(raw)
            if raw not in by_raw:
                tensors[raw] = stored
                continue
            merged = get(by_raw[raw])
            if tuple(merged.shape) != tuple(stored.shape):
                raise MergeError(
                    f"tensor {by_raw[raw]!r} has shape {list(merged.shape)} in {label} but "
                    f"{list(stored.shape)} in {source.folder}."
                )
            tensors[raw] = merged.detach().to(device="cpu", dtype=stored.dtype).contiguous()
        _save_atomic(tensors, out / path.name, _metadata(path))
    return out
