"""Bunny's image rows without torch: the SigLIP trunk in ONNX Runtime, S² and the projector
in numpy (``_s2``). Reads the ``vision/`` folder that ``jradi-engine export-gguf`` writes for
a Bunny model beside ``model.gguf``:

- ``manifest.json``: what the runtime must know (scales, trunk input size, tokens, widths, pad
  colour, mean/std, the layer the trunk ends at, file names);
- ``trunk.onnx`` (+ ``trunk.onnx.data`` when large): crops [N, 3, S, S] -> rows [N, T, W];
- ``projector.npz``: ``0.weight``, ``0.bias``, ``2.weight``, ``2.bias`` (no pickle).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from jradi_desktop.architectures._base import ArchitectureError
from jradi_desktop.architectures.bunny_s2 import MAX_S2_FACTOR, MAX_S2_SCALES, _s2
from jradi_desktop.architectures.fields import inside, integer, integers, number, one_of
from jradi_desktop.contract import VISION_MANIFEST

FORMAT = "jradi-s2-vision"
VERSION = 1


class VisionFilesError(ArchitectureError):
    """The vision files beside a model are missing, corrupt or disagree; names the file."""


# An int8 trunk is used only when its export measured it against fp32 on real images and the
# measurement passed: every image row within this cosine of fp32's, and every greedy report
# identical (bunny-v1.1.md: the rows go straight into the language model as embeddings).
INT8_MIN_ROW_COSINE = 0.995


@dataclass(frozen=True)
class Int8Agreement:
    """How an int8 trunk agreed with the fp32 one at export (``manifest.json``'s ``int8``)."""

    trunk: str  # its file, beside the fp32 trunk
    images: int  # images measured (the dev set's own)
    row_cosine_min: float  # the smallest cosine between an int8 row and its fp32 row
    reports_identical: int  # greedy reports of those images identical to fp32's

    @property
    def passed(self) -> bool:
        return (self.images > 0 and self.row_cosine_min >= INT8_MIN_ROW_COSINE
                and self.reports_identical == self.images)  # fmt: skip

    def describe(self) -> str:
        verdict = "used" if self.passed else "not used"
        return (f"int8 trunk {verdict}: row cosine >= {self.row_cosine_min:.4f} (needs "
                f"{INT8_MIN_ROW_COSINE}), {self.reports_identical}/{self.images} reports "
                "identical to fp32")  # fmt: skip


@dataclass(frozen=True)
class VisionManifest:
    """``manifest.json`` of an exported S² vision encoder."""

    folder: Path
    scales: tuple[int, ...]
    image_size: int  # the trunk's input
    tokens: int  # image rows per image
    vision_width: int
    embedding_width: int  # the language model's: rows are decoded as its embeddings
    pad_colour: tuple[int, int, int]
    mean: float
    std: float
    trunk_layers: int
    trunk: str
    projector: str
    dtype: str
    # contract.model_fingerprint of the model.gguf exported with it (None: an older export)
    model_fingerprint: str | None = None
    int8: Int8Agreement | None = None  # an int8 trunk and how it agreed with fp32

    @property
    def runtime_trunk(self) -> str:
        """The trunk file the runtime uses: the int8 one only where its agreement passed."""
        return self.int8.trunk if self.int8 is not None and self.int8.passed else self.trunk

    def describe_trunk(self) -> str:
        base = f"S² trunk {self.dtype}"
        return base if self.int8 is None else f"{base}; {self.int8.describe()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "architecture": "bunny_s2",
            "scales": list(self.scales),
            "image_size": self.image_size,
            "tokens": self.tokens,
            "vision_width": self.vision_width,
            "embedding_width": self.embedding_width,
            "pad_colour": list(self.pad_colour),
            "mean": self.mean,
            "std": self.std,
            "trunk_layers": self.trunk_layers,
            "trunk": self.trunk,
            "projector": self.projector,
            "dtype": self.dtype,
            **({"model_fingerprint": self.model_fingerprint} if self.model_fingerprint else {}),
            **({"int8": dataclasses.asdict(self.int8)} if self.int8 else {}),
        }

    def write(self) -> Path:
        path = self.folder / VISION_MANIFEST
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


def read_manifest(folder: Path) -> VisionManifest:
    """The manifest of ``folder``, checked field by field."""
    path = folder / VISION_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VisionFilesError(f"{path}: the vision encoder's manifest is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VisionFilesError(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise VisionFilesError(f"{path}: not a {FORMAT} manifest")
    if data.get("version") != VERSION:
        raise VisionFilesError(
            f"{path}: manifest version {data.get('version')!r}; this JRadi reads {VERSION}"
        )

    err = VisionFilesError
    image_size = integer(data.get("image_size"), path, "image_size", 1, 4096, err)
    scales = integers(data.get("scales"), path, "scales", 1, MAX_S2_FACTOR * image_size,
                      most=MAX_S2_SCALES, error=err)  # fmt: skip
    if (
        scales[0] != image_size
        or list(scales) != sorted(set(scales))
        or any(s % image_size for s in scales)
    ):
        raise err(
            f"{path}: scales {list(scales)} は {image_size} px（trunk の入力）から始まり、その"
            f"倍数で昇順である必要があります / scales {list(scales)} must ascend from the "
            f"trunk's {image_size} px in multiples of it (at most {MAX_S2_FACTOR}x)"
        )
    trunk = inside(folder, data.get("trunk"), path, "trunk", err)
    projector = inside(folder, data.get("projector"), path, "projector", err)
    manifest = VisionManifest(
        folder=folder,
        scales=scales,
        image_size=image_size,
        tokens=integer(data.get("tokens"), path, "tokens", 1, 65536, err),
        vision_width=integer(data.get("vision_width"), path, "vision_width", 1, 65536, err),
        embedding_width=integer(
            data.get("embedding_width"), path, "embedding_width", 1, 65536, err
        ),
        pad_colour=integers(
            data.get("pad_colour"), path, "pad_colour", 0, 255, length=3, error=err
        ),
        mean=number(data.get("mean", 0.5), path, "mean", error=err),
        std=number(data.get("std", 0.5), path, "std", positive=True, error=err),
        trunk_layers=integer(data.get("trunk_layers"), path, "trunk_layers", 1, 1024, err),
        trunk=trunk.name,
        projector=projector.name,
        dtype=one_of(data.get("dtype"), path, "dtype", ("float32", "float16"), err),
        model_fingerprint=_fingerprint(data.get("model_fingerprint"), path),
        int8=_int8(folder, data.get("int8"), path),
    )
    for file in (trunk, projector):
        if not file.is_file():
            raise VisionFilesError(f"{file}: named in {VISION_MANIFEST} but missing")
    return manifest


def _int8(folder: Path, value: Any, path: Path) -> Int8Agreement | None:
    if value is None:
        return None
    err = VisionFilesError
    if not isinstance(value, Mapping):
        raise err(f"{path}: field 'int8' is {value!r}; expected an object")
    trunk = inside(folder, value.get("trunk"), path, "int8.trunk", err)
    if not trunk.is_file():
        raise err(f"{trunk}: named in {VISION_MANIFEST} (int8.trunk) but missing")
    images = integer(value.get("images"), path, "int8.images", 0, 1_000_000, err)
    return Int8Agreement(
        trunk=trunk.name,
        images=images,
        row_cosine_min=number(value.get("row_cosine_min"), path, "int8.row_cosine_min", error=err),
        reports_identical=integer(
            value.get("reports_identical"), path, "int8.reports_identical", 0, images, err
        ),
    )


def _fingerprint(value: Any, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("sampled-sha256:") or len(value) > 100:
        raise VisionFilesError(
            f"{path}: model_fingerprint {value!r} は指紋の形式ではありません / field "
            f"'model_fingerprint' is {value!r}, not a fingerprint"
        )
    return value


def check_pair(folder: Path, model: Path) -> None:
    """Refuse a vision folder exported with another ``model.gguf`` than ``model`` (its
    manifest records the model's fingerprint; an older export without one is accepted)."""
    from jradi_desktop.contract import model_fingerprint

    manifest = read_manifest(folder)
    if manifest.model_fingerprint is None:
        return
    try:
        found = model_fingerprint(model)
    except OSError as exc:
        raise VisionFilesError(f"{model}: cannot be read ({exc.strerror})") from exc
    if found != manifest.model_fingerprint:
        raise VisionFilesError(
            f"{folder / VISION_MANIFEST} は別の {model.name} と一緒に書き出されたものです"
            f"（{model} と組になりません）。同じ書き出しのフォルダーをそのまま使ってください / "
            f"{folder / VISION_MANIFEST} was exported with another {model.name}, not {model}: "
            "use the model and its vision folder from the same export."
        )


def _load_projector(path: Path, manifest: VisionManifest) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            weights = {name: npz[name].astype(np.float32) for name in npz.files}
    except (OSError, ValueError, KeyError) as exc:
        raise VisionFilesError(f"{path}: cannot be read as projector weights ({exc})") from exc
    feature = manifest.vision_width * len(manifest.scales)
    wanted = {
        "0.weight": (None, feature),
        "0.bias": (None,),
        "2.weight": (manifest.embedding_width, None),
        "2.bias": (manifest.embedding_width,),
    }
    for name, shape in wanted.items():
        got = weights.get(name)
        if got is None:
            raise VisionFilesError(f"{path}: projector tensor {name!r} is missing")
        if not np.isfinite(got).all():
            raise VisionFilesError(
                f"{path}: 射影層のテンソル {name!r} に有限でない値（NaN/Inf）があります / "
                f"projector tensor {name!r} holds values that are not finite (NaN/Inf)"
            )
        if len(got.shape) != len(shape) or any(
            w is not None and w != g for w, g in zip(shape, got.shape, strict=False)
        ):
            raise VisionFilesError(
                f"{path}: projector tensor {name!r} has shape {got.shape}, the manifest "
                f"needs ({', '.join('*' if w is None else str(w) for w in shape)})"
            )
    return weights


class S2VisionEncoder:
    """Image -> [tokens, embedding_width] float32 rows. Thread-safe; the ONNX session is
    created by :meth:`open_session` or on first use (CUDA when ``onnxruntime-gpu`` provides
    it, else CPU)."""

    def __init__(self, folder: Path, threads: int | None = None, trunk: str | None = None) -> None:
        """``trunk``: run this trunk file of the folder, not the manifest's choice (the export
        measures an int8 trunk against the fp32 one this way)."""
        self.manifest = read_manifest(Path(folder))
        self.trunk = trunk or self.manifest.runtime_trunk
        self.projector = _load_projector(self.manifest.folder / self.manifest.projector,
                                         self.manifest)  # fmt: skip
        self._threads = threads
        self._session: Any = None
        self._lock = threading.Lock()
        self.encoded = 0  # images encoded so far (the cache's callers count on it)

    def _trunk(self, crops: np.ndarray) -> np.ndarray:
        session = self.open_session()
        wanted = session.get_inputs()[0].type  # "tensor(float16)" or "tensor(float)"
        feed = crops.astype(np.float16 if "float16" in wanted else np.float32)
        (rows,) = session.run(None, {session.get_inputs()[0].name: feed})
        return rows.astype(np.float32)

    def open_session(self) -> Any:
        """The trunk's ONNX Runtime session, created on the first call. The GGUF backend
        calls it while the model loads: creating it reads and optimises the whole trunk
        (seconds at the real size), which would otherwise delay the first report."""
        if self._session is None:
            import onnxruntime as ort

            path = self.manifest.folder / self.trunk
            options = ort.SessionOptions()
            if self._threads:
                options.intra_op_num_threads = self._threads
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                         if p in available]  # fmt: skip
            try:
                self._session = ort.InferenceSession(str(path), options, providers=providers)
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise VisionFilesError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc
        return self._session

    @property
    def crops(self) -> int:
        """Trunk runs per image: 1 + 4 + 9 = 14 for Bunny's three scales."""
        base = self.manifest.scales[0]
        return sum(math.ceil(s / base) ** 2 for s in self.manifest.scales)

    def encode(
        self, image: Image.Image, on_crop: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Bunny's image rows for ``image`` (any size/mode): pad, resize, S², project.
        ``on_crop(done, total)`` hears each crop through the trunk (one at a time: a real
        crop takes seconds on a CPU, and a caller may stop between two by raising)."""
        m = self.manifest
        pixels = _s2.normalise(image, max(m.scales), m.pad_colour, m.mean, m.std)
        total, done = self.crops, 0

        def trunk(crops: np.ndarray) -> np.ndarray:
            nonlocal done
            rows = []
            for crop in crops:
                rows.append(self._trunk(crop[None]))
                done += 1
                if on_crop is not None:
                    on_crop(done, total)
            return np.concatenate(rows)

        with self._lock:
            features = _s2.s2_features(pixels, m.scales, trunk)
            self.encoded += 1
        if features.shape != (m.tokens, m.vision_width * len(m.scales)):
            raise VisionFilesError(
                f"{m.folder / m.trunk}: gave features {features.shape}, the manifest says "
                f"{m.tokens} rows of {m.vision_width} x {len(m.scales)}"
            )
        p = self.projector
        rows = _s2.project(features, (p["0.weight"], p["0.bias"]), (p["2.weight"], p["2.bias"]))
        if not np.isfinite(rows).all():
            raise VisionFilesError(
                f"{m.folder}: 画像の行に有限でない値（NaN/Inf）が出ました。画像エンコーダーの"
                f"ファイル（{m.trunk}、{m.projector}、{VISION_MANIFEST}）が壊れています / the "
                f"image rows are not finite (NaN/Inf): the vision files ({m.trunk}, "
                f"{m.projector}, {VISION_MANIFEST}) are damaged"
            )
        return rows
