"""Which files hold a Hugging Face folder's weights: the one shard lookup of the app's model
check, the Bunny loader and the engine (``jradi_desktop.models.safetensors_files`` is this
with the model check's error class)."""

from __future__ import annotations

import json
from pathlib import Path

from jradi_desktop.architectures.fields import FieldError, inside
from jradi_desktop.errors import build_error

INDEX = "model.safetensors.index.json"


def safetensors_files(folder: Path, error: type[Exception]) -> list[Path]:
    """The safetensors files: those the index names (each must be there), else every
    ``*.safetensors``; ``error`` (a ``JRadiError`` gets both messages) names the problem."""
    index = folder / INDEX
    if not index.is_file():
        return sorted(folder.glob("*.safetensors"))
    try:
        mapping = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(mapping.values()))
        if not names or not all(isinstance(name, str) for name in names):
            raise TypeError("weight_map values must be file names (strings)")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise build_error(
            error,
            f"{index}: 読めないか weight_map がありません（{exc}）。モデルに付属のファイルに"
            "戻してください。",
            f"{index}: unreadable or without a weight_map ({exc}); restore the file that came "
            "with the model.",
        ) from exc
    for name in names:  # a shard named ../x, /etc/passwd or a link out is never opened
        try:
            inside(folder, name, index, "weight_map")
        except FieldError as exc:
            raise build_error(
                error,
                f"{index}: weight_map の {name!r} がモデルのフォルダーの外を指しています。モデルに"
                "付属のファイルに戻してください。",
                f"{index}: weight_map names {name!r}, outside the model folder; restore the "
                f"file that came with the model. ({exc})",
            ) from exc
    files = [folder / name for name in names]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise build_error(
            error,
            f"{index}: 記載された重みファイル {', '.join(missing)} がありません。すべての分割"
            "ファイルを同じフォルダーに置いてください。",
            f"{index}: names weight files that are missing ({', '.join(missing)}). A model whose "
            "shard is missing cannot load: put every shard in the same folder.",
        )
    return files
