"""Deterministic tiny models with the real architectures, for demos and tests.

``build_demo_models(out_dir, seed)`` writes, offline and in seconds:

- ``base/``: a Llama causal LM shaped like a shrunken Llama-3-8B (grouped-query attention,
  RMSNorm, rotary with theta 500000, untied head);
- ``med-a/``, ``med-b/``, ``ja/``: the base plus each its own sparse deterministic
  perturbation, so each carries a distinct task vector (stand-ins for MMed-Llama-3,
  OpenBioLLM and Swallow);
- ``vlm/``: the vision-language model whose language tower is the base plus its own
  perturbation, in one of two layouts (``vlm=``): ``llava`` (the default until the clinician's
  GGUF path runs Bunny, issue #14), a LLaVA-style model (CLIP vision tower, 2-layer GELU MLP
  projector) with a processor that ``AutoProcessor`` loads and the runtime's Bunny chat
  template (``engine._demo_llava``); or ``bunny``, a tiny Bunny-v1.1 (SigLIP at S² scales,
  ``mlp2x_gelu`` projector, F16 shards + index: ``engine._demo_bunny``), the layout of
  JRadiEvo's real VLM.

Every weight is drawn from a generator seeded by (seed, model, tensor name), never from the
global RNG, so the same seed gives byte-identical files whatever transformers' init order.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine._demo_corpus import DEMO_CORPUS
from jradi_desktop.architectures import IMAGE_PLACEHOLDER, Architecture, architectures
from jradi_desktop.architectures.llama import LLAMA3_TEXT_TEMPLATE
from jradi_desktop.contract import ALL_ROLES, PROGRESS, RESULT, Event

if TYPE_CHECKING:
    import torch

    from engine._demo_bunny import Init

BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"
EOT = "<|eot_id|>"
PAD = "<|pad|>"
IMAGE = IMAGE_PLACEHOLDER
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
SPECIAL_TOKENS = [BOS, EOS, PAD, EOT, START_HEADER, END_HEADER, IMAGE]

# Llama 3's pre-tokenizer split; llama.cpp implements the same one as pre-type "llama-bpe".
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

DEMO_MARKER = "jradi_demo.json"
# The demo VLM's layouts: each family's ``demo_layout`` (its ``demo_builder`` hook writes it).
# bunny is the default since issue #14 (the GGUF path runs it: the shipped demo model,
# resources/demo-model/, is its trained export); llava stays for the LLaVA/CLIP mmproj path
# and its tests.
VLM_LAYOUTS = tuple(a.demo_layout for a in architectures() if a.demo_layout is not None)
DEFAULT_VLM = "bunny"


def _layout_family(layout: str) -> Architecture:
    return next(a for a in architectures() if a.demo_layout == layout)


@dataclass(frozen=True)
class DemoShape:
    """Sizes of the demo models: Llama-3-8B's layout, shrunk."""

    vocab_size: int = 1024
    hidden_size: int = 64
    intermediate_size: int = 256  # a multiple of 256 so Q4_K applies to ffn_down
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    rope_theta: float = 500000.0
    max_positions: int = 4096
    init_std: float = 0.05
    vision_hidden: int = 32
    vision_intermediate: int = 64
    vision_layers: int = 3
    vision_heads: int = 2
    image_size: int = 32
    patch_size: int = 8
    # The Bunny layout's SigLIP: patch 14 as so400m; a 56 px trunk (4 x 4 patches) at three
    # scales, so 16 image rows per image as the LLaVA's.
    s2_patch_size: int = 14
    s2_scales: tuple[int, ...] = (56, 112, 168)
    # Task vectors: each specialist changes this fraction of every tensor by N(0, scale).
    perturb_density: float = 0.5
    perturb_scale: float = 0.02


def _generator(seed: int, *parts: str) -> torch.Generator:
    import torch

    key = zlib.crc32("/".join(parts).encode("utf-8"))
    return torch.Generator().manual_seed((seed * 1_000_003 + key) % (2**63))


def _init_tensor(shape: torch.Size, name: str, std: float, gen: torch.Generator) -> torch.Tensor:
    import torch

    leaf = name.rsplit(".", 2)[-2:]
    if name.endswith("bias"):
        return torch.zeros(shape)
    if "norm" in leaf[0] or "layrnorm" in leaf[0]:
        return torch.ones(shape)
    return torch.randn(shape, generator=gen) * std


def _initialiser(shape: DemoShape, seed: int, prefix: str = "") -> Init:
    """The VLMs' image-path tensors by ``(shape, part, name)``, each drawn from its own
    generator, seeded by (seed, prefix + part, name)."""
    import torch

    def init(dims: tuple[int, ...], part: str, name: str) -> torch.Tensor:
        generator = _generator(seed, prefix + part, name)
        return _init_tensor(torch.Size(dims), name, shape.init_std, generator)

    return init


def build_tokenizer(vocab_size: int) -> object:
    """A byte-level BPE tokenizer (Llama-3 style) trained on the built-in corpus."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(ignore_merges=True))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(DEMO_CORPUS.splitlines(), trainer=trainer)
    bos_id = core.token_to_id(BOS)
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens={"image_token": IMAGE},
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = LLAMA3_TEXT_TEMPLATE
    return tokenizer


def _llama_config(shape: DemoShape, tokenizer: object) -> object:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        head_dim=shape.hidden_size // shape.num_heads,
        max_position_embeddings=shape.max_positions,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": shape.rope_theta},
        tie_word_embeddings=False,
        initializer_range=shape.init_std,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(EOT)],
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )


def _base_weights(model: object, shape: DemoShape, seed: int) -> dict[str, torch.Tensor]:
    return {
        name: _init_tensor(t.shape, name, shape.init_std, _generator(seed, "base", name))
        for name, t in model.state_dict().items()
    }


def _perturbed(
    base: dict[str, torch.Tensor], shape: DemoShape, seed: int, role: str
) -> dict[str, torch.Tensor]:
    import torch

    out = {}
    for name, tensor in base.items():
        gen = _generator(seed, role, name)
        mask = torch.rand(tensor.shape, generator=gen) < shape.perturb_density
        noise = torch.randn(tensor.shape, generator=gen) * shape.perturb_scale
        out[name] = tensor + noise * mask
    return out


def _write_marker(folder: Path, role: str, seed: int, trained: bool) -> None:
    marker = {
        "demo": True,
        "role": role,
        "seed": seed,
        "trained": trained,
        "note": "JRadi demo model (tiny, random or briefly trained): not for clinical use.",
        "note_ja": "JRadi デモモデル（極小・ランダムまたは短時間学習）：臨床には使用できません。",
    }
    (folder / DEMO_MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n")


def _save_language_model(
    folder: Path, config: object, weights: dict[str, torch.Tensor], tokenizer: object
) -> None:
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(config)
    model.load_state_dict(weights, strict=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def iter_build_demo_models(
    out_dir: str | Path,
    seed: int = 0,
    shape: DemoShape | None = None,
    trained: bool = False,
    vlm: str = DEFAULT_VLM,
) -> Iterator[Event]:
    """Write the five demo model folders under ``out_dir``, yielding one event per step.

    ``trained``: fit the base to the built-in corpus and the VLM to the report prompt first
    (about a minute on 2 cores), so the demo writes readable Japanese reports. ``vlm``: the
    VLM's layout, one of ``VLM_LAYOUTS``.
    """
    if vlm not in VLM_LAYOUTS:
        raise ValueError(f"vlm layout {vlm!r} is not known; choose one of {list(VLM_LAYOUTS)}")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the engine reports through events, not tqdm
    shape = shape or DemoShape()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = 2 + len(ALL_ROLES)
    torch.manual_seed(seed)  # only transformers' throwaway init uses it; weights are ours
    yield Event("demo-models", PROGRESS, "tokenizer", 1, total)
    tokenizer = build_tokenizer(shape.vocab_size)
    config = _llama_config(shape, tokenizer)

    from transformers import LlamaForCausalLM

    yield Event("demo-models", PROGRESS, "base weights", 2, total)
    base = _base_weights(LlamaForCausalLM(config), shape, seed)
    if trained:
        base = _trained_base(config, base, tokenizer, seed)
    for step, role in enumerate(ALL_ROLES, start=3):
        yield Event("demo-models", PROGRESS, role, step, total)
        folder = out / role
        folder.mkdir(parents=True, exist_ok=True)
        if role == "vlm":
            # Trained: the VLM is the trained base fine-tuned on reports (its task vector is
            # that fine-tune); untrained: the base plus its own perturbation.
            tower = base if trained else _perturbed(base, shape, seed, role)
            write = _layout_family(vlm).hook("demo_builder")
            write(DemoVlm(folder, shape, seed, config, tower, tokenizer, trained))
        else:
            weights = base if role == "base" else _perturbed(base, shape, seed, role)
            _save_language_model(folder, config, weights, tokenizer)
        _write_marker(folder, role, seed, trained)
    yield Event(
        "demo-models",
        RESULT,
        f"demo models written to {out}",
        total,
        total,
        {"out_dir": str(out), "roles": list(ALL_ROLES), "seed": seed, "vlm": vlm},
    )


def build_demo_models(
    out_dir: str | Path, seed: int = 0, trained: bool = False, vlm: str = DEFAULT_VLM
) -> Path:
    """Build the demo models and return ``out_dir``."""
    for _ in iter_build_demo_models(out_dir, seed, trained=trained, vlm=vlm):
        pass
    return Path(out_dir)


@dataclass(frozen=True)
class DemoVlm:
    """What a family's ``demo_builder`` hook writes the demo VLM from."""

    folder: Path
    shape: DemoShape
    seed: int
    config: object  # the language tower's LlamaConfig
    tower: dict[str, torch.Tensor]  # its weights, Llama names
    tokenizer: object
    trained: bool  # fine-tune on reports first


def write_llava_vlm(vlm: DemoVlm) -> None:
    """The VLM as a tiny LLaVA (CLIP + 2-layer projector); trained: fine-tuned on reports."""
    from engine._demo_llava import build_llava

    init = _initialiser(vlm.shape, vlm.seed)
    model, processor = build_llava(vlm.shape, vlm.config, vlm.tower, vlm.tokenizer, init)
    if vlm.trained:
        from engine._demo_training import train_vlm

        with _single_thread_training():
            train_vlm(model, processor, vlm.seed)
    model.save_pretrained(vlm.folder, safe_serialization=True)
    processor.save_pretrained(vlm.folder)


def write_bunny_vlm(vlm: DemoVlm) -> None:
    """The VLM as a tiny Bunny-v1.1; trained: fine-tuned on reports as the LLaVA is."""
    from engine._demo_bunny import bunny_config, image_path_tensors, write_bunny_folder

    tensors = {("language", name): t for name, t in vlm.tower.items()}
    tensors |= image_path_tensors(vlm.shape, _initialiser(vlm.shape, vlm.seed, "bunny-"))
    bunny = bunny_config(vlm.shape, vlm.config)
    if vlm.trained:
        from engine._demo_training import train_bunny

        with _single_thread_training():
            tensors |= train_bunny(bunny, tensors, vlm.tokenizer, vlm.seed)
    write_bunny_folder(vlm.folder, bunny, tensors, vlm.tokenizer)


@contextmanager
def _single_thread_training() -> Iterator[None]:
    """Training reductions depend on the thread count; one thread makes runs repeatable."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _trained_base(
    config: object, weights: dict[str, torch.Tensor], tokenizer: object, seed: int
) -> dict[str, torch.Tensor]:
    from transformers import LlamaForCausalLM

    from engine._demo_training import train_language_model

    model = LlamaForCausalLM(config)
    model.load_state_dict(weights, strict=True)
    with _single_thread_training():
        train_language_model(model, tokenizer, seed)
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
