import json
import os
import struct
import subprocess
import sys

import gguf
import numpy as np
import pytest

from jradi_desktop.models import (
    ConfigError,
    ModelCheckError,
    ModelRegistry,
    ModelSpec,
    check_model,
    find_mmproj,
    read_hf_config,
    resolve_model,
)


def _save(writer: gguf.GGUFWriter, path):
    """Write ``writer``'s header, metadata and tensors to its file, close it; ``path``."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tiny_gguf(path, arch="llama", embedding=128, blocks=1, width=None, tensor_blocks=None):
    """A GGUF header saying ``embedding`` wide and ``blocks`` blocks; the tensors are ``width``
    wide (default: the same) and ``tensor_blocks`` blocks (default: the same)."""
    width = width or embedding
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_embedding_length(embedding)
    writer.add_block_count(blocks)
    writer.add_head_count(2)
    writer.add_tensor("token_embd.weight", np.zeros((4, width), np.float32))
    for n in range(blocks if tensor_blocks is None else tensor_blocks):
        writer.add_tensor(f"blk.{n}.attn_norm.weight", np.zeros(width, np.float32))
    return _save(writer, path)


def _tiny_mmproj(path, projection=128, width=32, blocks=1):
    """A clip GGUF (LLaVA mlp projector) projecting ``width`` to ``projection``."""
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_vision_projection_dim(projection)
    writer.add_vision_embedding_length(width)
    writer.add_vision_block_count(blocks)
    writer.add_tensor("mm.0.weight", np.zeros((projection, width), np.float32))
    for n in range(blocks):
        writer.add_tensor(f"v.blk.{n}.ln1.weight", np.zeros(width, np.float32))
    return _save(writer, path)


def _safetensors(path, shapes):
    """A float32 safetensors file of zeros with these tensor shapes (no torch needed)."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return path


def _llama_folder(folder, config=None, hidden=8, layers=2, **overrides):
    """A tiny Llama HF folder: config.json (``config`` verbatim if given) + safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    if config is None:
        config = {"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers,
                  "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 10}  # fmt: skip
        config.update(overrides)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text, encoding="utf-8")
    shapes = {"model.embed_tokens.weight": [10, 8], "model.norm.weight": [8]}
    for n in range(2):  # the weights are always 8 wide, 2 layers
        shapes[f"model.layers.{n}.self_attn.q_proj.weight"] = [8, 8]
        shapes[f"model.layers.{n}.mlp.gate_proj.weight"] = [16, 8]
        shapes[f"model.layers.{n}.input_layernorm.weight"] = [8]
    _safetensors(folder / "model.safetensors", shapes)
    return folder


def _jradi(*args, data_dir, cwd=None):
    """``jradi ARGS`` as a real child process with its own registry folder."""
    env = {**os.environ, "JRADI_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "jradi_desktop.cli", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


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


# -- the registry under concurrent writers --------------------------------------------------
def test_eight_concurrent_cli_adds_keep_all_eight_entries(tmp_path):
    model = _tiny_gguf(tmp_path / "tiny.gguf")
    data = tmp_path / "data"
    env = {**os.environ, "JRADI_DATA_DIR": str(data)}
    add = [sys.executable, "-m", "jradi_desktop.cli", "models", "add", str(model), "--name"]
    children = [
        subprocess.Popen(
            [*add, f"m{n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for n in range(8)
    ]  # all eight run at once: each reads, changes and writes models.json
    results = [(child.communicate(timeout=120)[1], child.returncode) for child in children]
    assert [code for _, code in results] == [0] * 8, results
    assert ModelRegistry(data / "models.json").names() == [f"m{n}" for n in range(8)]
    assert not [p for p in data.iterdir() if p.name.startswith(".models-")]  # no temp files left


def test_a_duplicate_name_is_refused_unless_replace(tmp_path):
    (tmp_path / "a").mkdir()
    first = _tiny_gguf(tmp_path / "a" / "first.gguf").resolve()
    second = _tiny_gguf(tmp_path / "second.gguf").resolve()
    data = tmp_path / "data"
    assert _jradi("models", "add", first, "--name", "demo", data_dir=data).returncode == 0
    refused = _jradi("models", "add", second, "--name", "demo", data_dir=data)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "モデル名 'demo' は既に登録されています" in refused.stderr
    assert "a model named 'demo' is already registered" in refused.stderr
    assert "--replace" in refused.stderr and str(first) in refused.stderr
    assert ModelRegistry(data / "models.json").get("demo").path == first  # unchanged
    replaced = _jradi("models", "add", second, "--name", "demo", "--replace", data_dir=data)
    assert replaced.returncode == 0, replaced.stderr
    assert ModelRegistry(data / "models.json").get("demo").path == second
    assert ModelRegistry(data / "models.json").names() == ["demo"]


def test_two_registry_objects_on_one_file_never_drop_each_others_entries(tmp_path):
    model = _tiny_gguf(tmp_path / "tiny.gguf")
    path = tmp_path / "models.json"
    app, terminal = ModelRegistry(path), ModelRegistry(path)  # both loaded while empty
    app.add(ModelSpec("app", "gguf", model))
    terminal.add(ModelSpec("terminal", "gguf", model))
    app.set_default("app")
    assert ModelRegistry(path).names() == ["app", "terminal"]
    assert terminal.names() == ["app", "terminal"] and terminal.default == "app"  # re-read
    with pytest.raises(ModelCheckError, match="already registered"):
        terminal.add(ModelSpec("app", "gguf", model, context=8192))
    assert app.update("app", context=8192).context == 8192  # the model manager's edit
    terminal.remove("terminal")
    assert ModelRegistry(path).get("app").context == 8192
    assert ModelRegistry(path).names() == ["app"]


def test_a_corrupt_registry_is_named_and_never_overwritten(tmp_path):
    path = tmp_path / "models.json"
    path.write_text('{"models": [ oops', encoding="utf-8")
    with pytest.raises(ModelCheckError, match=r"models\.json: the model registry cannot be read"):
        ModelRegistry(path)
    assert path.read_text(encoding="utf-8") == '{"models": [ oops'
    result = _jradi("models", "list", data_dir=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "fix the file or move it away" in result.stderr


# -- mmproj beside the model ----------------------------------------------------------------
def test_models_add_picks_up_the_mmproj_beside_the_gguf(tmp_path):
    folder = tmp_path / "demo-gguf"
    folder.mkdir()
    model = _tiny_gguf(folder / "model.gguf").resolve()
    mmproj = _tiny_mmproj(folder / "mmproj.gguf").resolve()
    assert find_mmproj(model) == mmproj
    data = tmp_path / "data"
    result = _jradi("models", "add", "demo-gguf/model.gguf", "--name", "demo", data_dir=data,
                    cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec = ModelRegistry(data / "models.json").get("demo")
    assert spec.path == model and spec.mmproj == mmproj and spec.has_vision
    assert resolve_model(str(model)).mmproj == mmproj  # the same lookup as report --model
    # no --name: the exporter's folder names the model
    result = _jradi("models", "add", model, data_dir=data)
    assert result.returncode == 0 and "demo-gguf" in ModelRegistry(data / "models.json").names()


def test_gguf_header_that_disagrees_with_its_tensors_is_refused(tmp_path):
    narrow = _tiny_gguf(tmp_path / "narrow.gguf", embedding=128, width=64)
    with pytest.raises(ModelCheckError, match=r"tensor token_embd\.weight has shape \[64, 4\].*"
                       r"header's llama\.embedding_length is 128"):  # fmt: skip
        check_model(ModelSpec("n", "gguf", narrow))
    short = _tiny_gguf(tmp_path / "short.gguf", blocks=4, tensor_blocks=2)
    with pytest.raises(ModelCheckError, match=r"short\.gguf: the header's llama\.block_count is "
                       r"4, but the tensors hold 2 \(0–1\) layers"):  # fmt: skip
        check_model(ModelSpec("s", "gguf", short))
    model = _tiny_gguf(tmp_path / "ok.gguf")
    mmproj = _tiny_mmproj(tmp_path / "mmproj.gguf", blocks=1)
    check_model(ModelSpec("ok", "gguf", model, mmproj=mmproj))
    writer_lies = tmp_path / "lying-mmproj.gguf"
    writer = gguf.GGUFWriter(str(writer_lies), "clip")
    writer.add_vision_projection_dim(128)
    writer.add_vision_embedding_length(32)
    writer.add_vision_block_count(3)
    writer.add_tensor("mm.0.weight", np.zeros((128, 32), np.float32))
    writer.add_tensor("v.blk.0.ln1.weight", np.zeros(32, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelCheckError, match=r"clip\.vision\.block_count is 3, but the tensors"):
        check_model(ModelSpec("ok", "gguf", model, mmproj=writer_lies))


# -- a registered name against a folder of the same name ------------------------------------
def test_a_registered_name_wins_over_a_folder_in_the_current_directory(tmp_path, monkeypatch):
    model = _tiny_gguf(tmp_path / "tiny.gguf")
    registry = ModelRegistry(tmp_path / "data" / "models.json")
    registry.add(ModelSpec("demo", "gguf", model))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()  # e.g. what `jradi-engine demo-models demo` wrote
    (tmp_path / "local").mkdir()
    assert resolve_model("demo", registry=registry).path == model
    assert resolve_model("./demo", registry=registry).kind == "hf"  # clearly a path
    assert resolve_model(str(tmp_path / "demo"), registry=registry).kind == "hf"
    assert resolve_model("local", registry=registry).kind == "hf"  # not registered: the folder
    with pytest.raises(ModelCheckError, match=r"missing\.gguf: does not exist\. --model takes"):
        resolve_model("missing.gguf", registry=registry)
    with pytest.raises(ModelCheckError, match=r"model 'nothing' is not registered"):
        resolve_model("nothing", registry=registry)


# -- config.json: one checked loader --------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[1, 2]", r"config\.json: holds a JSON list, not an object"),
        ("{oops", r"config\.json: not readable as JSON"),
        ({"hidden_size": "64"}, r'config\.json: field hidden_size is "64"; it must be an integer'),
        ({"hidden_size": 0}, r"field hidden_size is 0; it must be an integer >= 1"),
        ({"hidden_size": True}, r"field hidden_size is true; it must be an integer >= 1"),
        ({"num_hidden_layers": None}, r"field num_hidden_layers is missing; it must be an integer"),
        ({"text_config": {"hidden_size": 64.5}}, r"field text_config\.hidden_size is 64\.5"),
        ({"text_config": [1]}, r"field text_config is \[1\]; it must be an object"),
    ],
)
def test_a_bad_config_json_is_refused_naming_the_file_and_field(tmp_path, config, message):
    if isinstance(config, dict):
        base = {"model_type": "llama", "hidden_size": 8, "num_hidden_layers": 2}
        config = {**base, **config}
    folder = _llama_folder(tmp_path / "model", config=config)
    with pytest.raises(ModelCheckError, match=message) as raised:
        check_model(ModelSpec("m", "hf", folder))
    assert str(folder / "config.json") in raised.value.message_en
    assert str(folder / "config.json") in raised.value.message_ja  # Japanese first, same file
    data = tmp_path / "data"
    result = _jradi("models", "add", folder, data_dir=data)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (data / "models.json").exists()


def test_the_loader_gives_typed_values_and_the_callers_error_class(tmp_path):
    folder = _llama_folder(tmp_path / "m", hidden=8, rms_norm_eps=1e-6)
    cfg = read_hf_config(folder)
    assert isinstance(cfg, dict) and cfg["model_type"] == "llama"
    assert cfg.size("hidden_size") == 8 and cfg.float("rms_norm_eps") == 1e-6
    assert cfg.size("head_dim", None) is None and cfg.text_config() is cfg
    with pytest.raises(ConfigError, match=r"field rope_theta is missing"):
        cfg.float("rope_theta")

    class EnglishOnly(Exception):
        pass

    (folder / "config.json").write_text('{"hidden_size": "8"}')
    bad = read_hf_config(folder, EnglishOnly)
    with pytest.raises(EnglishOnly, match=r'^.*config\.json: field hidden_size is "8"; it must'):
        bad.size("hidden_size")


# -- an HF folder's config against its weights ----------------------------------------------
def test_hf_config_that_disagrees_with_the_weights_is_refused(tmp_path):
    good = _llama_folder(tmp_path / "good")
    assert check_model(ModelSpec("g", "hf", good)).embedding_length == 8
    wide = _llama_folder(tmp_path / "wide", hidden=16)
    with pytest.raises(ModelCheckError, match=r"wide/model\.safetensors: tensor "
                       r"model\.embed_tokens\.weight has shape \[10, 8\], but vocab_size, "
                       r"hidden_size in .*wide/config\.json call for \[10, 16\]"):  # fmt: skip
        check_model(ModelSpec("w", "hf", wide))
    deep = _llama_folder(tmp_path / "deep", layers=4)
    with pytest.raises(ModelCheckError, match=r"num_hidden_layers in .*deep/config\.json is 4, "
                       r"but the weights hold 2 \(0–1\) language model layers"):  # fmt: skip
        check_model(ModelSpec("d", "hf", deep))
    result = _jradi("models", "add", deep, data_dir=tmp_path / "data")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "text_config" not in result.stderr and "num_hidden_layers" in result.stderr
