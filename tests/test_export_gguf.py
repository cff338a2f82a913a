import base64
import io
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import ExportError
from engine.export import export_gguf

pytestmark = pytest.mark.slow

TEXTS = [
    "所見：両肺野に明らかな浸潤影や腫瘤影は認めません。心胸郭比は正常範囲内です。",
    "The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.",
    "右下肺野にconsolidationあり、2024年12月31日のCTと比較して増大。",
    "<|start_header_id|>user<|end_header_id|>\n\n質問<|eot_id|><image>",
    "　全角スペース\tタブ\n\n改行 ｱｲｳ ①② 😀",
]
CLS_QUIRK_LOGIT_ERROR = 0.06  # max logit difference llama.cpp's CLS row causes (README)
PROMPT = "あなたは優秀な放射線科医です。このレントゲン写真を見て、所見文を書いてください。"


def _llama(path, **kwargs):
    from jradi_desktop.inference import load_llama

    # f32 KV cache: the default f16 cache alone moves logits by ~1e-3. load_llama: the AMX
    # kernels of llama.cpp crash on quantised models (see _llama_runtime).
    return load_llama(path, n_ctx=512, n_threads=2, verbose=False, type_k=0, type_v=0, **kwargs)


def test_tokenizer_parity_gguf_vs_hf(demo_dir, demo_gguf):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo_dir / "base")
    llm = _llama(demo_gguf["base"], vocab_only=True)
    try:
        for text in TEXTS:
            expected = tokenizer(text).input_ids
            assert llm.tokenize(text.encode(), add_bos=True, special=True) == expected, text
            assert llm.detokenize(expected[1:], special=True).decode() == text
    finally:
        llm.close()


def test_logit_parity_f32_base(demo_dir, demo_gguf):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ids = AutoTokenizer.from_pretrained(demo_dir / "base")(TEXTS[0]).input_ids
    assert len(ids) >= 20
    model = AutoModelForCausalLM.from_pretrained(demo_dir / "base").eval()
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0].numpy()
    llm = _llama(demo_gguf["base"], logits_all=True)
    try:
        llm.eval(ids)
        got = np.asarray(llm.scores[: len(ids)])
    finally:
        llm.close()
    assert np.abs(got - expected).max() <= 1e-3


def _vlm_inputs(demo_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8))
    processor = AutoProcessor.from_pretrained(demo_dir / "vlm")
    model = AutoModelForImageTextToText.from_pretrained(demo_dir / "vlm").eval()
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}],
        add_generation_prompt=True,
    )
    return image, processor, model, processor(images=image, text=text, return_tensors="pt")


def test_vlm_greedy_parity_through_multimodal_handler(demo_dir, demo_gguf):
    from jradi_desktop.inference._chat_handlers import BunnyChatHandler

    image, _, model, inputs = _vlm_inputs(demo_dir)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False,
                             output_scores=True, return_dict_in_generate=True)  # fmt: skip
    n_prompt = inputs.input_ids.shape[1]
    expected = out.sequences[0, n_prompt:].tolist()

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    handler = BunnyChatHandler(clip_model_path=str(demo_gguf["mmproj"]), verbose=False)
    llm = _llama(demo_gguf["vlm"], chat_handler=handler)
    try:
        llm.create_chat_completion(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": url}},
                        {"type": "text", "text": PROMPT},
                    ],
                }
            ],
            temperature=0.0,
            max_tokens=9,  # the 9th is sampled only, so 8 are evaluated into input_ids
            repeat_penalty=1.0,
        )
        tokens = llm.input_ids[: llm.n_tokens].tolist()
    finally:
        llm.close()
    assert len(tokens) == n_prompt + 8  # same prompt length: text and 16 image positions
    # llama.cpp's LLaVA graph feeds patches 2..16 + CLS (docs/adr/0002): its logits differ from
    # transformers' by up to ~0.06, so the random demo's greedy tokens agree until a near tie,
    # where llama.cpp's token must be one transformers scores within twice that of its best.
    got = tokens[n_prompt:]
    same = next((i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b), 8)
    assert same >= 3, (got, expected)
    if same < 8:
        scores = out.scores[same][0]
        assert float(scores.max() - scores[got[same]]) <= 2 * CLS_QUIRK_LOGIT_ERROR


def test_llama_cpp_llava_graph_still_swaps_first_patch_for_cls(demo_dir, demo_gguf):
    """Tripwire for an upstream quirk we document (docs/adr/0002): llama.cpp's LLaVA graph
    appends CLS after the patches, then skips the first row. Its 16 image embeddings are
    HF's patches 1..15 (positions shifted by one) followed by CLS. When this test fails,
    llama.cpp has changed: recheck the VLM parity figures in the README."""
    import ctypes

    import llama_cpp.mtmd_cpp as mtmd

    image, processor, model, _ = _vlm_inputs(demo_dir)
    pixels = processor.image_processor(image, return_tensors="pt").pixel_values
    with torch.no_grad():
        hidden = model.model.vision_tower(pixels, output_hidden_states=True).hidden_states[-2]
        expected = model.model.multi_modal_projector(hidden)[0].numpy()  # CLS + 16 patches
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data = buffer.getvalue()
    llm = _llama(demo_gguf["vlm"])
    params = mtmd.mtmd_context_params_default()
    params.use_gpu = False
    params.print_timings = False
    ctx = mtmd.mtmd_init_from_file(str(demo_gguf["mmproj"]).encode(), llm.model, params)
    try:
        raw = (ctypes.c_uint8 * len(data)).from_buffer(bytearray(data))
        bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(ctx, raw, len(data), False)
        chunks = mtmd.mtmd_input_chunks_init()
        text = mtmd.mtmd_input_text()
        marker = mtmd.mtmd_default_marker()
        text.text, text.text_len, text.add_special, text.parse_special = marker, len(marker), 0, 1
        bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
        assert mtmd.mtmd_tokenize(ctx, chunks, ctypes.byref(text), bitmaps, 1) == 0
        chunk = next(
            mtmd.mtmd_input_chunks_get(chunks, i)
            for i in range(mtmd.mtmd_input_chunks_size(chunks))
            if mtmd.mtmd_input_chunk_get_type(mtmd.mtmd_input_chunks_get(chunks, i))
            == mtmd.MTMD_INPUT_CHUNK_TYPE_IMAGE
        )
        assert mtmd.mtmd_encode_chunk(ctx, chunk) == 0
        n_embd = expected.shape[1]
        got = np.ctypeslib.as_array(mtmd.mtmd_get_output_embd(ctx), shape=(16 * n_embd,))
        got = got.reshape(16, n_embd).copy()
        mtmd.mtmd_input_chunks_free(chunks)
        mtmd.mtmd_bitmap_free(bitmap)
    finally:
        mtmd.mtmd_free(ctx)
        llm.close()
    nearest = np.abs(expected[:, None, :] - got[None, :, :]).max(-1).argmin(0)
    assert nearest.tolist() == [*range(2, 17), 0]


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_K_M"])
def test_quantised_exports_load_and_generate(demo_dir, tmp_path, qtype):
    import gguf

    result = export_gguf(demo_dir / "base", tmp_path / qtype, "f16", qtype)
    reader = gguf.GGUFReader(result.model)
    types = {t.tensor_type.name for t in reader.tensors}
    assert ("Q8_0" if qtype == "Q8_0" else "Q4_K") in types
    llm = _llama(result.model)
    try:
        out = llm.create_completion("所見：", max_tokens=8, temperature=0.0)
    finally:
        llm.close()
    assert out["usage"]["completion_tokens"] > 0
    manifest = json.loads((tmp_path / qtype / "export.json").read_text())
    assert manifest["quantization"] == qtype
    assert not list((tmp_path / qtype).glob("*.partial.gguf"))


def test_unsupported_architecture_is_refused_with_the_supported_list(tmp_path):
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    )
    with pytest.raises(
        ExportError, match=r"'GPT2LMHeadModel' is not supported\. Supported: Bunny.*; Llama"
    ):
        export_gguf(folder, tmp_path / "out")


def test_pickle_only_checkpoint_is_refused(demo_dir, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((demo_dir / "base" / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ExportError, match="only pickle checkpoints"):
        export_gguf(folder, tmp_path / "out")


def test_cli_exports_with_jsonl_events(demo_dir, tmp_path, capsys):
    from engine.cli import main

    assert (
        main(["export-gguf", str(demo_dir / "vlm"), str(tmp_path / "cli"), "--events", "jsonl"])
        == 0
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["kind"] for e in events] == ["progress", "progress", "result"]
    assert (tmp_path / "cli" / "model.gguf").is_file()
    assert (tmp_path / "cli" / "mmproj.gguf").is_file()


def test_cli_reports_a_bad_folder_without_traceback(tmp_path, capsys):
    from engine.cli import main

    assert main(["export-gguf", str(tmp_path / "missing"), str(tmp_path / "out")]) == 1
    assert "not a folder" in capsys.readouterr().err


def _edited_copy(demo_dir, tmp_path, name, edit):
    folder = tmp_path / f"{name}-edited"
    shutil.copytree(demo_dir / name, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    edit(config)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "base",
            lambda c: c.update(hidden_size="64"),
            r'base-edited/config\.json: field hidden_size is "64"; it must be an integer >= 1',
        ),
        (
            "vlm",
            lambda c: c["text_config"].update(intermediate_size=-1),
            r"config\.json: field text_config\.intermediate_size is -1; it must be an integer",
        ),
        (
            "vlm",
            lambda c: c["text_config"].update(hidden_size=128),
            r"vlm-edited/model\.safetensors: tensor language_model\.lm_head\.weight has shape "
            r"\[(\d+), 64\], but text_config\.hidden_size in .*vlm-edited/config\.json call for "
            r"\[\1, 128\]",
        ),
        (
            "vlm",
            lambda c: c["text_config"].update(num_hidden_layers=4),
            r"text_config\.num_hidden_layers in .*config\.json is 4, but the weights hold "
            r"2 \(0–1\) language model layers",
        ),
        (
            "vlm",
            lambda c: c["vision_config"].update(num_hidden_layers=5),
            r"vision_config\.num_hidden_layers in .*config\.json is 5, but the weights hold "
            r"3 \(0–2\) vision encoder layers",
        ),
        (
            "vlm",
            lambda c: c["vision_config"].update(hidden_size=48),
            r"has shape \[\d+, 32.*\], but vision_config\.hidden_size",
        ),
    ],
    ids=["str-size", "negative", "wider-config", "more-layers", "vision-layers", "vision-width"],
)
def test_a_config_that_contradicts_its_weights_writes_nothing(
    demo_dir, tmp_path, name, edit, message
):
    folder = _edited_copy(demo_dir, tmp_path, name, edit)
    with pytest.raises(ExportError, match=message):
        export_gguf(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_names_a_config_that_is_not_an_object(demo_dir, tmp_path, capsys):
    from engine.cli import main

    folder = tmp_path / "listed"
    shutil.copytree(demo_dir / "base", folder)
    (folder / "config.json").write_text("[1, 2]")
    assert main(["export-gguf", str(folder), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'config.json'}: holds a JSON list, not an object" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
