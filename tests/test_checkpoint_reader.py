"""One checkpoint reader, one shard lookup, one folder check, one dtype choice.

The merge, the export and the evolution read folders through ``engine._checkpoint``; the app's
model check, the Bunny loader and the engine find shards through ``safetensors_files``; every
"is this a usable Hugging Face folder" question is ``folder_problems``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch


def test_folder_problems_name_what_is_missing(tmp_path: Path) -> None:
    from jradi_desktop.models import folder_problems

    assert [p.kind for p in folder_problems(tmp_path / "missing")] == ["no_folder"]
    assert [(p.kind, p.path) for p in folder_problems(tmp_path)] == [
        ("no_config", tmp_path / "config.json"),
        ("no_weights", tmp_path),
    ]
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    [problem] = folder_problems(tmp_path)
    assert problem.kind == "no_weights" and problem.found == "pytorch_model.bin"
    (tmp_path / "model.safetensors.index.json").write_text("{}")  # shards: safetensors_files'
    assert folder_problems(tmp_path) == []


@pytest.mark.slow
def test_a_shard_missing_from_the_index_is_named_by_every_reader(
    bunny_demo_dir: Path, tmp_path: Path
) -> None:
    from engine._checkpoint import open_checkpoint
    from engine.errors import ExportError
    from engine.merge import MergeError
    from engine.merge._io import open_model_folder
    from jradi_desktop.architectures.bunny_s2 import BunnyConfigError, read_tensors
    from jradi_desktop.models import ConfigError, safetensors_files

    folder = tmp_path / "vlm"
    shutil.copytree(bunny_demo_dir / "vlm", folder)
    (folder / "model-00002-of-00002.safetensors").unlink()
    named = r"missing \(model-00002-of-00002\.safetensors\)"
    with pytest.raises(MergeError, match=named):
        open_model_folder(folder)
    with pytest.raises(ExportError, match=named):
        open_checkpoint(folder, ExportError)
    with pytest.raises(BunnyConfigError, match=named):
        read_tensors(folder)
    with pytest.raises(ConfigError, match=named):
        safetensors_files(folder)


@pytest.mark.slow
def test_the_reader_is_lazy_and_agrees_with_the_headers(bunny_demo_dir: Path) -> None:
    from engine._checkpoint import open_checkpoint

    ckpt = open_checkpoint(bunny_demo_dir / "vlm")
    assert ckpt.architecture.name == "bunny_s2" and len(ckpt.files) == 2
    language = ckpt.tensors()
    assert list(language) == ckpt.names() and len(language) == len(ckpt.language)
    assert language.get("no such tensor") is None
    state = ckpt.language_state_dict()
    assert ckpt.language_numel() == sum(t.numel() for t in state.values())
    for part in ("language", "vision", "projector"):
        for name in ckpt.names(part):
            tensor = ckpt.tensor(name, part)
            assert list(tensor.shape) == ckpt.shape(name, part)
            assert torch.equal(tensor, ckpt.raw_tensor(ckpt.stored_key(name, part)))


def test_the_dtype_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from jradi_desktop.inference._devices import torch_dtype

    assert torch_dtype("auto", "cpu") is torch.float32
    assert torch_dtype("bfloat16", "cpu") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert torch_dtype("auto", "cuda:0") is torch.float16
    assert torch_dtype("auto", "cuda", fallback="float32") is torch.float32
    assert torch_dtype("auto", "cuda", gpu="float16") is torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert torch_dtype("auto", "cuda") is torch.bfloat16
