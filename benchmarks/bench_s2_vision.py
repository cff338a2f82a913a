"""Seconds per image of Bunny-v1.1's S² vision path at the real shapes, torch against ONNX
Runtime in the same run (random weights: SigLIP-so400m 1152 / 4304 / 16 heads, patch 14,
384 px crops; projector 3456 -> 4096 -> 4096).

    .venv/bin/python benchmarks/bench_s2_vision.py [--layers 2] [--threads 2] [--repeat 2]
        [--fp16] [--int8]

Both run the same 14 crops (1 + 4 + 9 at 384 / 768 / 1152) through a trunk of ``--layers``
layers and the same numpy S² glue and projector (``jradi_desktop.architectures.bunny_s2._s2``); only
the trunk's runtime differs: (a) transformers' ``SiglipVisionModel`` in torch, float32;
(b) the exported ``trunk.onnx`` in ONNX Runtime's CPU provider, float32 (``--fp16``: also the
float16 export; ``--int8``: also ONNX Runtime's dynamic int8 quantisation of the fp32 graph).
Per-image times are extrapolated to the 26 layers Bunny runs: trunk time per layer x 26 plus
the measured glue and projector.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jradi_desktop  # noqa: F401  (offline switches before any HF import)

WIDTH, FF, HEADS, PATCH, SIZE = 1152, 4304, 16, 14, 384
SCALES = (384, 768, 1152)
EMBED = 4096
REAL_TRUNK_LAYERS = 26


def write_vision_folder(folder: Path, layers: int) -> None:
    """A Bunny-layout folder holding only the image path (config, vision, projector)."""
    import torch
    from safetensors.torch import save_file
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from jradi_desktop.architectures import get

    key = get("bunny_s2").stored_key  # (part, name) -> the key Bunny stores
    torch.manual_seed(0)
    config = SiglipVisionConfig(hidden_size=WIDTH, intermediate_size=FF,
                                num_hidden_layers=layers + 1, num_attention_heads=HEADS,
                                image_size=SIZE, patch_size=PATCH)  # fmt: skip
    tower = SiglipVisionModel(config)
    tensors = {key("vision", k): v.contiguous() for k, v in tower.state_dict().items()
               if not k.endswith("position_ids")}  # fmt: skip
    feature = WIDTH * len(SCALES)
    for name, shape in {"0.weight": (EMBED, feature), "0.bias": (EMBED,),
                        "2.weight": (EMBED, EMBED), "2.bias": (EMBED,)}.items():  # fmt: skip
        tensors[key("projector", name)] = torch.randn(shape) * 0.02
    folder.mkdir(parents=True)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    # The Llama's fields are checked by the export; its weights are not needed here.
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["BunnyLlamaForCausalLM"], "model_type": "bunny-llama",
        "use_s2": True, "mm_hidden_size": feature, "mm_projector_type": "mlp2x_gelu",
        "vision_config": {"num_hidden_layers": layers + 1},
        "hidden_size": EMBED, "num_hidden_layers": 32, "num_attention_heads": 32,
    }))  # fmt: skip


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: sessions, allocations
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=2, help="trunk layers built and timed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--int8", action="store_true")
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from engine.export._s2_vision import export_s2_vision
    from jradi_desktop.architectures.bunny_s2 import (
        BunnyS2,
        S2VisionEncoder,
        _s2,
        read_tensors,
        vision_settings,
        vision_trunk,
    )

    torch.set_num_threads(args.threads)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512, 3), np.uint8))
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write_vision_folder(tmp / "bunny", args.layers)
        config = json.loads((tmp / "bunny" / "config.json").read_text())
        arch = BunnyS2()
        parts: dict[str, dict] = {"vision": {}, "projector": {}}
        for key, tensor in read_tensors(tmp / "bunny").items():
            part, name = arch.split_key(key)
            parts[part][name] = tensor
        settings = vision_settings(config, {k: tuple(v.shape) for k, v in parts["vision"].items()})
        trunk = vision_trunk(settings, parts["vision"], dtype=torch.float32)
        proj = {k: v.numpy() for k, v in parts["projector"].items()}

        def torch_trunk(crops: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = trunk(torch.from_numpy(crops), output_hidden_states=True)
            return out.hidden_states[-1].numpy()

        def torch_image() -> None:
            pixels = _s2.normalise(image, SCALES[-1])
            features = _s2.s2_features(pixels, SCALES, torch_trunk)
            _s2.project(features, (proj["0.weight"], proj["0.bias"]),
                        (proj["2.weight"], proj["2.bias"]))  # fmt: skip

        def glue_only() -> None:
            def fake(crops: np.ndarray) -> np.ndarray:
                return np.zeros((crops.shape[0], settings.grid**2, WIDTH), np.float32)

            features = _s2.s2_features(_s2.normalise(image, SCALES[-1]), SCALES, fake)
            _s2.project(features, (proj["0.weight"], proj["0.bias"]),
                        (proj["2.weight"], proj["2.bias"]))  # fmt: skip

        rows["glue + projector (no trunk)"] = timed(glue_only, args.repeat)
        rows["torch fp32"] = timed(torch_image, args.repeat)
        variants = [("f32", "onnxruntime fp32")] + (
            [("f16", "onnxruntime fp16")] if args.fp16 else []
        )
        for outtype, label in variants:
            export_s2_vision(tmp / "bunny", tmp / outtype, outtype=outtype)
            encoder = S2VisionEncoder(tmp / outtype, threads=args.threads)
            rows[label] = timed(lambda e=encoder: e.encode(image), args.repeat)
        if args.int8:
            import shutil

            from onnxruntime.quantization import QuantType, quantize_dynamic

            shutil.copytree(tmp / "f32", tmp / "i8")
            (tmp / "i8" / "trunk.onnx").unlink()
            (tmp / "i8" / "trunk.onnx.data").unlink()
            source, target = tmp / "f32" / "trunk.onnx", tmp / "i8" / "trunk.onnx"
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                             use_external_data_format=True)  # fmt: skip
            encoder = S2VisionEncoder(tmp / "i8", threads=args.threads)
            rows["onnxruntime dynamic int8"] = timed(lambda: encoder.encode(image), args.repeat)

    glue = rows.pop("glue + projector (no trunk)")
    base = rows["torch fp32"]
    print(f"S² vision path, 14 crops of {SIZE} px, {args.layers} trunk layer(s), "
          f"{args.threads} thread(s), median of {args.repeat}")  # fmt: skip
    print(f"{'runtime':28} {'s/image':>9} {'s/layer':>9} {'26 layers':>10} {'vs torch':>9}")
    print(f"{'glue + projector (numpy)':28} {glue:9.2f}")
    for label, seconds in rows.items():
        per_layer = (seconds - glue) / args.layers
        full = glue + per_layer * REAL_TRUNK_LAYERS
        print(f"{label:28} {seconds:9.2f} {per_layer:9.2f} {full:10.1f} "
              f"{base / seconds:8.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
