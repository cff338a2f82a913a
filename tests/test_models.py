import gguf
import numpy as np
import pytest

from jradi_desktop.models import (
    ModelCheckError,
    ModelRegistry,
    ModelSpec,
    check_model,
    resolve_model,
)


def _tiny_gguf(path, arch="llama", embedding=128):
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_embedding_length(embedding)
    writer.add_block_count(1)
    writer.add_head_count(2)
    writer.add_tensor("token_embd.weight", np.zeros((4, embedding), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.slow
def test_demo_gguf_with_its_mmproj_passes_and_gets_a_memory_estimate(demo_gguf):
    spec = ModelSpec("demo", "gguf", demo_gguf["vlm"], mmproj=demo_gguf["mmproj"])
    check = check_model(spec)
    assert (check.architecture, check.embedding_length, check.layers) == ("llama", 64, 2)
    assert check.kv_heads == 2 and check.head_dim == 16
    # weights + f16 KV cache (2 * layers * ctx * kv_heads * head_dim * 2 bytes), +10%, +256 MiB
    expected = int((check.weights_bytes + 2 * 2 * 4096 * 2 * 16 * 2) * 1.1) + 256 * 1024**2
    assert check.memory_bytes(4096) == expected


@pytest.mark.slow
def test_mmproj_of_another_model_is_refused(demo_gguf, tmp_path):
    other = _tiny_gguf(tmp_path / "big.gguf", embedding=128)
    with pytest.raises(ModelCheckError, match=r"projection size 64 does not match .* 128"):
        check_model(ModelSpec("x", "gguf", other, mmproj=demo_gguf["mmproj"]))


def test_unsupported_architecture_and_missing_files_are_named(tmp_path):
    bert = _tiny_gguf(tmp_path / "bert.gguf", arch="bert")
    with pytest.raises(ModelCheckError, match=r"architecture 'bert' is not supported"):
        check_model(ModelSpec("b", "gguf", bert))
    with pytest.raises(ModelCheckError, match="GGUF file not found"):
        check_model(ModelSpec("m", "gguf", tmp_path / "missing.gguf"))
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelCheckError, match="GGUF header cannot be read"):
        check_model(ModelSpec("g", "gguf", garbage))


def test_hf_folder_without_safetensors_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelCheckError, match="no safetensors weights"):
        check_model(ModelSpec("h", "hf", tmp_path))


@pytest.mark.slow
def test_registry_round_trip_and_default(demo_gguf, demo_dir, tmp_path):
    path = tmp_path / "data" / "models.json"
    registry = ModelRegistry(path)
    registry.add(ModelSpec("vlm", "gguf", demo_gguf["vlm"], mmproj=demo_gguf["mmproj"]))
    registry.add(ModelSpec("hf-vlm", "hf", demo_dir / "vlm"))
    assert registry.default == "vlm"
    registry.set_default("hf-vlm")
    again = ModelRegistry(path)
    assert again.names() == ["hf-vlm", "vlm"]
    assert again.default == "hf-vlm"
    assert again.get("vlm").mmproj == demo_gguf["mmproj"]
    again.remove("hf-vlm")
    assert ModelRegistry(path).default == "vlm"
    with pytest.raises(ModelCheckError, match=r"not registered\. Registered: vlm"):
        again.get("nope")


@pytest.mark.slow
def test_resolve_model_finds_the_mmproj_beside_the_gguf(demo_gguf, demo_dir):
    spec = resolve_model(str(demo_gguf["vlm"]))
    assert spec.kind == "gguf" and spec.mmproj == demo_gguf["mmproj"]
    assert resolve_model(str(demo_dir / "vlm")).kind == "hf"
