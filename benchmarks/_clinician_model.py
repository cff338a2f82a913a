"""A random-weight Bunny-v1.1 at the real shapes, written straight to the formats the app
ships (``bench_clinician_report.py`` times one report through it):

- ``model.gguf``: Llama-3-8B (32 x 4096 / 14336, GQA 32:8 of 128, vocab 128256, rope theta
  500000) quantised Q4_K_M by llama.cpp (~4.9 GB). The f16 GGUF it is quantised from (~16 GB)
  is streamed to disk tensor by tensor and deleted afterwards, so at most one tensor (1 GiB,
  the embedding) is ever in memory.
- ``vision/`` and ``vision-fp16/``: the SigLIP-so400m trunk (1152 / 4304, 16 heads, 26 of 27
  layers, patch 14, 384 px) in ONNX, float32 and float16, with ``projector.npz`` (3456 ->
  4096 -> 4096) and a ``manifest.json`` that records ``model.gguf``'s fingerprint.

A real Llama-3 tokenizer is not available offline, so the vocabulary is the demo tokenizer's
byte-level BPE (tokens and merges), padded with unique filler tokens to 128256 ids; the last
256 ids are control tokens where Llama-3 has them (BOS 128000, EOS 128001, ``<|eot_id|>``
128009). Weights are normal(0, 0.02) (norms 1.0). Drawing 8 G normals costs minutes on a
small CPU, so each matrix is cut from a 64 Mi-value pool drawn once from the seeded generator,
at seeded random offsets: the values are normal, their order is not independent, which no
timing depends on.

``DIR/clinician_model.json`` is written last: a folder holding it (for the same shapes) is a
complete build and is reused. Never built in the test suite (``--tiny`` is, in seconds).

    .venv/bin/python benchmarks/_clinician_model.py DIR [--tiny] [--skip-fp16] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MARKER = "clinician_model.json"
STD = 0.02
_POOL = 1 << 26  # values in the pool the matrices are cut from
_CHUNK = 1 << 24  # values copied per draw of an offset


@dataclass(frozen=True)
class Shapes:
    """The model's widths: the language model's, then the vision trunk's."""

    layers: int = 32
    hidden: int = 4096
    ffn: int = 14336
    heads: int = 32
    kv_heads: int = 8
    vocab: int = 128256
    context: int = 8192
    rope_theta: float = 500000.0
    rms_eps: float = 1e-5
    vision_width: int = 1152
    vision_ffn: int = 4304
    vision_heads: int = 16
    vision_layers: int = 26  # the trunk: layers Bunny runs, of 27
    patch: int = 14
    image_size: int = 384

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def scales(self) -> tuple[int, int, int]:
        return (self.image_size, 2 * self.image_size, 3 * self.image_size)

    @property
    def tokens(self) -> int:
        return (self.image_size // self.patch) ** 2


REAL = Shapes()
TINY = Shapes(layers=1, hidden=256, ffn=512, heads=4, kv_heads=2, vocab=1024, context=2048,
              vision_width=32, vision_ffn=64, vision_heads=2, vision_layers=2,
              image_size=56)  # fmt: skip


@dataclass
class Build:
    """What :func:`build_clinician_model` left in ``folder``, and what it cost."""

    folder: Path
    reused: bool
    seconds: dict[str, float]  # per step, of the run that built it

    @property
    def model(self) -> Path:
        return self.folder / "model.gguf"

    @property
    def vision(self) -> Path:
        return self.folder / "vision"

    @property
    def vision_fp16(self) -> Path:
        return self.folder / "vision-fp16"

    def sizes(self) -> dict[str, int]:
        """Bytes on disk per part (absent parts left out)."""
        out = {"model.gguf": self.model.stat().st_size} if self.model.is_file() else {}
        for part in (self.vision, self.vision_fp16):
            if part.is_dir():
                out[part.name] = sum(f.stat().st_size for f in part.iterdir() if f.is_file())
        return out


# --- the vocabulary --------------------------------------------------------------------


def vocabulary(n_vocab: int) -> tuple[list[str], list[int], list[str], dict[str, int]]:
    """(tokens, token types, merges, special ids) of a ``gpt2`` BPE vocabulary of ``n_vocab``
    ids that llama.cpp accepts: the demo tokenizer's tokens and merges, unique fillers, and a
    control block at the end laid out as Llama-3's (its first id is 128000 at full size)."""
    import gguf

    from engine.demo import BOS, END_HEADER, EOS, EOT, START_HEADER, build_tokenizer

    block = 256 if n_vocab >= 4096 else 16
    base = n_vocab - block
    spec = json.loads(build_tokenizer(min(1024, base)).backend_tokenizer.to_str())
    added = {a["content"] for a in spec.get("added_tokens", [])}
    normal = [t for t, _ in sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
              if t not in added]  # fmt: skip
    tokens = normal + [f"<filler{i}>" for i in range(len(normal), base)]
    named = {0: BOS, 1: EOS, 6: START_HEADER, 7: END_HEADER, 9: EOT}
    reserved = iter(range(block))
    tokens += [named.get(k) or f"<|reserved_special_token_{next(reserved)}|>" for k in range(block)]
    if len(set(tokens)) != n_vocab:
        raise ValueError(f"the vocabulary has duplicate tokens ({len(set(tokens))} unique)")
    types = [gguf.TokenType.NORMAL] * base + [gguf.TokenType.CONTROL] * block
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    return tokens, types, merges, {"bos": base, "eos": base + 1, "eot": base + 9}


# --- model.gguf ------------------------------------------------------------------------


def _llama_tensors(s: Shapes) -> list[tuple[str, tuple[int, ...]]]:
    """GGUF names and (rows, columns) shapes, in convert_hf_to_gguf's order."""
    q, kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
    out: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (s.vocab, s.hidden))]
    for i in range(s.layers):
        out += [
            (f"blk.{i}.attn_norm.weight", (s.hidden,)),
            (f"blk.{i}.attn_q.weight", (q, s.hidden)),
            (f"blk.{i}.attn_k.weight", (kv, s.hidden)),
            (f"blk.{i}.attn_v.weight", (kv, s.hidden)),
            (f"blk.{i}.attn_output.weight", (s.hidden, q)),
            (f"blk.{i}.ffn_norm.weight", (s.hidden,)),
            (f"blk.{i}.ffn_gate.weight", (s.ffn, s.hidden)),
            (f"blk.{i}.ffn_up.weight", (s.ffn, s.hidden)),
            (f"blk.{i}.ffn_down.weight", (s.hidden, s.ffn)),
        ]
    return [*out, ("output_norm.weight", (s.hidden,)), ("output.weight", (s.vocab, s.hidden))]


def write_f16_gguf(path: Path, s: Shapes, seed: int = 0) -> Path:
    """A Llama GGUF of random f16 weights (norms f32 ones), one tensor in memory at a time."""
    import gguf

    from jradi_desktop.architectures.bunny_s2 import BUNNY_CHAT_TEMPLATE

    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_name("jradi-clinician-random-bunny-v1.1")
    writer.add_context_length(s.context)
    writer.add_embedding_length(s.hidden)
    writer.add_block_count(s.layers)
    writer.add_feed_forward_length(s.ffn)
    writer.add_rope_dimension_count(s.head_dim)
    writer.add_head_count(s.heads)
    writer.add_head_count_kv(s.kv_heads)
    writer.add_key_length(s.head_dim)
    writer.add_value_length(s.head_dim)
    writer.add_layer_norm_rms_eps(s.rms_eps)
    writer.add_rope_freq_base(s.rope_theta)
    writer.add_vocab_size(s.vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokens, types, merges, ids = vocabulary(s.vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(ids["bos"])
    writer.add_eos_token_id(ids["eos"])
    writer.add_pad_token_id(ids["eos"])  # Bunny pads with EOS
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(BUNNY_CHAT_TEMPLATE)

    plan = _llama_tensors(s)
    for name, shape in plan:
        dtype = np.dtype(np.float16 if len(shape) == 2 else np.float32)
        writer.add_tensor_info(name, shape, dtype, int(np.prod(shape)) * dtype.itemsize)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()

    rng = np.random.default_rng(seed)
    pool = (rng.standard_normal(_POOL, dtype=np.float32) * STD).astype(np.float16)
    for _name, shape in plan:
        if len(shape) == 1:
            writer.write_tensor_data(np.ones(shape, np.float32))
            continue
        data = np.empty(int(np.prod(shape)), np.float16)
        for start in range(0, data.size, _CHUNK):
            n = min(_CHUNK, data.size - start)
            offset = int(rng.integers(0, _POOL - n + 1))
            data[start : start + n] = pool[offset : offset + n]
        writer.write_tensor_data(data.reshape(shape))
        del data
    writer.close()
    return path


def write_model_gguf(target: Path, s: Shapes, threads: int, seed: int = 0) -> dict[str, float]:
    """``target`` as Q4_K_M, through an f16 GGUF beside it that is deleted afterwards."""
    from engine.export._quantize import quantize_gguf
    from jradi_desktop.inference import ensure_cpu_backend

    f16, part = target.with_suffix(".f16.gguf"), target.with_suffix(".gguf.part")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    write_f16_gguf(f16, s, seed)
    seconds["f16 GGUF written"] = time.perf_counter() - start
    seconds["f16 GGUF bytes"] = f16.stat().st_size
    ensure_cpu_backend()
    start = time.perf_counter()
    try:
        quantize_gguf(f16, part, "Q4_K_M", threads=threads)
    finally:
        f16.unlink(missing_ok=True)
    os.replace(part, target)
    seconds["quantised Q4_K_M"] = time.perf_counter() - start
    return seconds


# --- vision/ ---------------------------------------------------------------------------


def _trunk(s: Shapes, seed: int) -> object:
    """The SigLIP trunk (``bunny_s2.siglip_trunk``), random weights, float32."""
    import torch

    from jradi_desktop.architectures.bunny_s2 import BunnyVision, siglip_trunk

    settings = BunnyVision(
        width=s.vision_width, intermediate=s.vision_ffn, patch=s.patch,
        image_size=s.image_size, layers=s.vision_layers + 1, heads=s.vision_heads, eps=1e-6,
        act="gelu_pytorch_tanh", select_layer=-2, scales=s.scales,
    )  # fmt: skip
    torch.manual_seed(seed)
    trunk = siglip_trunk(settings).float().eval()
    with torch.no_grad():  # transformers' own init is left as is, except layer norms: 1 / 0
        for name, p in trunk.named_parameters():
            if "layer_norm" in name or "layernorm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
    return trunk


def write_vision(folders: dict[str, Path], s: Shapes, seed: int = 0) -> dict[str, float]:
    """``trunk.onnx`` (+ data) and ``projector.npz`` into each folder, by dtype
    (``"float32"`` / ``"float16"``); the trunk is built once. Manifests come later."""
    import torch

    from engine.export._s2_vision import _export_trunk

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    trunk = _trunk(s, seed)
    seconds["trunk built"] = time.perf_counter() - start
    rng = np.random.default_rng(seed + 1)
    feature = 3 * s.vision_width
    projector = {
        "0.weight": rng.standard_normal((s.hidden, feature), np.float32) * STD,
        "0.bias": np.zeros(s.hidden, np.float32),
        "2.weight": rng.standard_normal((s.hidden, s.hidden), np.float32) * STD,
        "2.bias": np.zeros(s.hidden, np.float32),
    }
    for dtype in ("float32", "float16"):  # float16 last: the trunk is cast in place
        if dtype not in folders:
            continue
        part = folders[dtype].with_name(folders[dtype].name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        start = time.perf_counter()
        _export_trunk(trunk.to(getattr(torch, dtype)), s.image_size, part / "trunk.onnx")
        np.savez(part / "projector.npz", **projector)
        shutil.rmtree(folders[dtype], ignore_errors=True)
        os.replace(part, folders[dtype])
        seconds[f"ONNX {dtype} exported"] = time.perf_counter() - start
    return seconds


def write_manifest(folder: Path, s: Shapes, dtype: str, model: Path) -> None:
    from jradi_desktop.architectures.bunny_s2 import MEAN, PAD_COLOUR, VisionManifest
    from jradi_desktop.architectures.bunny_s2 import STD as PIXEL_STD
    from jradi_desktop.contract import model_fingerprint

    VisionManifest(
        folder=folder, scales=s.scales, image_size=s.image_size, tokens=s.tokens,
        vision_width=s.vision_width, embedding_width=s.hidden, pad_colour=PAD_COLOUR,
        mean=MEAN, std=PIXEL_STD, trunk_layers=s.vision_layers, trunk="trunk.onnx",
        projector="projector.npz", dtype=dtype, model_fingerprint=model_fingerprint(model),
    ).write()  # fmt: skip


# --- the whole folder ------------------------------------------------------------------


def build_clinician_model(
    folder: Path,
    shapes: Shapes = REAL,
    *,
    fp16: bool = True,
    threads: int | None = None,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> Build:
    """Build (or reuse) ``folder``: ``model.gguf``, ``vision/`` and, with ``fp16``,
    ``vision-fp16/``. Parts already complete (renamed into place only once written) are
    kept, so an interrupted build resumes; the marker is written last."""
    import psutil

    folder = Path(folder)
    threads = threads or psutil.cpu_count(logical=False) or 1
    build = Build(folder, reused=False, seconds={})
    marker = folder / MARKER
    if marker.is_file():
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        complete = build.model.is_file() and (build.vision / "manifest.json").is_file()
        if fp16:
            complete = complete and (build.vision_fp16 / "manifest.json").is_file()
        if recorded.get("shapes") == asdict(shapes) and complete:
            return Build(folder, reused=True, seconds=recorded.get("seconds", {}))
        marker.unlink()
    elif folder.is_dir() and any(folder.iterdir()):
        log(f"{folder}: no complete build there; finishing it (parts already written are kept)")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not build.model.is_file():
        log(f"writing {build.model} (f16, then Q4_K_M) ...")
        build.seconds.update(write_model_gguf(build.model, shapes, threads, seed))
    folders = {"float32": build.vision} | ({"float16": build.vision_fp16} if fp16 else {})
    missing = {d: f for d, f in folders.items() if not (f / "trunk.onnx").is_file()}
    if missing:
        log(f"exporting the vision trunk ({', '.join(missing)}) ...")
        build.seconds.update(write_vision(missing, shapes, seed))
    for dtype, part in folders.items():
        write_manifest(part, shapes, dtype, build.model)
    build.seconds["total"] = time.perf_counter() - started
    record = {"shapes": asdict(shapes), "seconds": build.seconds, "sizes": build.sizes()}
    marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return build


def describe(build: Build) -> list[str]:
    """Lines for a terminal: how long the build took (this run or the recorded one) and sizes."""
    how = "reused (built earlier)" if build.reused else "built"
    lines = [f"{build.folder}: {how}"]
    for step, value in build.seconds.items():
        text = f"{value / 1e9:.2f} GB" if step.endswith("bytes") else f"{value:.1f} s"
        lines.append(f"  {step:28} {text}")
    for name, size in build.sizes().items():
        lines.append(f"  {name:28} {size / 1e9:.3f} GB ({size:,} bytes)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--tiny", action="store_true", help="tiny widths (seconds; for tests)")
    parser.add_argument("--skip-fp16", action="store_true", help="no vision-fp16/")
    parser.add_argument("--threads", type=int, help="quantiser threads (physical cores)")
    args = parser.parse_args()
    build = build_clinician_model(args.folder, TINY if args.tiny else REAL,
                                  fp16=not args.skip_fp16, threads=args.threads,
                                  log=lambda line: print(line, flush=True))  # fmt: skip
    print("\n".join(describe(build)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
