"""A deterministic synthetic development set: chest-X-ray-like phantoms with Japanese reports.

``write_demo_dev_set(out_dir, n, seed)`` writes ``n`` images (~256 x 256; PNG, every fourth
one a 16-bit DICOM so both decoders are exercised) and ``dev.csv`` (columns ``image``,
``report``; paths relative to the CSV). Image ``i`` shows the finding of report
``i mod 10`` of the built-in corpus (``engine/_demo_corpus.py``): a normal chest, a lower-lobe
opacity, cardiomegaly with effusions, a nodule, a pneumothorax, ground glass, a tube and a
catheter, aortic calcification, an old rib fracture, a band of atelectasis. The phantom is a
body ellipse with dark lungs, a heart, a spine, ribs and clavicles; ``seed`` and ``i`` jitter
sizes and positions and add noise. For demos and tests only: not radiographs.

``write_demo_recipe(out_dir, models_dir)`` adds ``evolve.yaml``: a JRadiEvo search over the
demo models (``jradi-engine demo-models``) on that dev set, small enough for a CPU.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from engine._demo_corpus import DEMO_CORPUS
from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import ALL_ROLES, BASE_ROLE, MERGED_ROLES, VLM_ROLE

SIZE = 256
DEV_CSV = "dev.csv"
DEMO_RECIPE = "evolve.yaml"


def demo_reports() -> list[str]:
    """The corpus's ``所見：… 印象：…`` pairs, one report per pair (10 of them)."""
    lines = DEMO_CORPUS.splitlines()
    return [
        f"{line}\n{lines[i + 1]}"
        for i, line in enumerate(lines[:-1])
        if line.startswith("所見：") and lines[i + 1].startswith("印象：")
    ]


def _ellipse(
    y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float
) -> np.ndarray:
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def phantom(finding: int, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A float32 attenuation map in [0, 1] (bright = dense) showing finding ``finding``."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    j = lambda scale=0.015: float(rng.normal(0.0, scale))  # noqa: E731  (small jitter)
    img = np.full((size, size), 0.04, np.float32)
    img[_ellipse(y, x, 0.55, 0.5, 0.5 + j(), 0.44 + j())] = 0.5  # body
    lungs = []
    for cx in (0.32, 0.68):
        lung = _ellipse(y, x, 0.48 + j(), cx + j(0.01), 0.3 + j(), 0.15 + j(0.01))
        lungs.append(lung & (y < 0.74 + 0.04 * np.cos((x - cx) * 9)))  # domed diaphragm
        img[lungs[-1]] = 0.14
    heart_r = 0.17 if finding == 2 else 0.12  # cardiomegaly doubles the heart's width
    img[_ellipse(y, x, 0.62 + j(), 0.54 + j(0.01), 0.12 + j(0.01), heart_r + j(0.01))] = 0.6
    img[np.abs(x - 0.5) < 0.035] += 0.2  # spine
    for level in np.linspace(0.24, 0.7, 7) + j(0.005):  # ribs, curving down from the spine
        rib = np.abs(y - level - 0.12 * (x - 0.5) ** 2 * 4) < 0.012
        img[rib & (np.abs(x - 0.5) > 0.05) & (np.abs(x - 0.5) < 0.4)] += 0.22
    for side in (-1, 1):  # clavicles
        clav = np.abs(y - 0.2 - 0.15 * side * (x - 0.5)) < 0.012
        img[clav & (side * (x - 0.5) > 0.04) & (side * (x - 0.5) < 0.3)] += 0.3
    if finding == 1:  # right lower-lobe opacity (the patient's right is the image's left)
        img[_ellipse(y, x, 0.62, 0.3, 0.08, 0.07) & lungs[0]] += 0.3
    elif finding == 2:  # bilateral effusions: fluid in the costophrenic angles
        for lung in lungs:
            img[lung & (y > 0.64)] = 0.45
    elif finding == 3:  # left upper nodule
        img[_ellipse(y, x, 0.32 + j(), 0.7 + j(), 0.025, 0.025)] += 0.35
    elif finding == 4:  # right apical pneumothorax: no lung markings, a pleural line
        apex = lungs[0] & (y < 0.36)
        img[apex] = 0.06
        img[(np.abs(_distance(y, x, 0.36, 0.32) - 0.12) < 0.004) & lungs[0]] += 0.15
    elif finding == 5:  # diffuse ground glass
        for lung in lungs:
            img[lung] += 0.12 + 0.05 * rng.random(int(lung.sum())).astype(np.float32)
    elif finding == 6:  # endotracheal tube and central line
        img[(np.abs(x - 0.5) < 0.006) & (y > 0.05) & (y < 0.3)] = 0.95
        img[(np.abs(x - 0.42 - 0.3 * (y - 0.2)) < 0.004) & (y > 0.15) & (y < 0.4)] = 0.95
    elif finding == 7:  # calcified aortic knob
        ring = np.abs(_distance(y, x, 0.33, 0.58) - 0.04) < 0.006
        img[ring & (y < 0.33)] = 0.9
    elif finding == 8:  # healed left rib fracture: a callus on one rib
        img[_ellipse(y, x, 0.45, 0.8, 0.02, 0.03)] += 0.25
    elif finding == 9:  # right middle plate-like atelectasis
        img[(np.abs(y - 0.5 - 0.1 * (x - 0.3)) < 0.008) & lungs[0]] += 0.3
    img += rng.normal(0.0, 0.015, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0)


def _distance(y: np.ndarray, x: np.ndarray, cy: float, cx: float) -> np.ndarray:
    return np.sqrt((y - cy) ** 2 + (x - cx) ** 2)


def _write_png(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((img * 255).round().astype(np.uint8), mode="L").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


def _write_dicom(path: Path, img: np.ndarray, seed: int, index: int) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    def uid(kind: str) -> str:
        return generate_uid(entropy_srcs=["jradi-demo-dev", str(seed), str(index), kind])

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray, for presentation
    ds.SOPInstanceUID = uid("sop")
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = "DX"
    ds.PatientName = "DEMO^PHANTOM"
    ds.PatientID = f"DEMO{index:04d}"
    pixels = (img * 4095).round().astype(np.uint16)
    ds.set_pixel_data(pixels, "MONOCHROME2", 12, generate_instance_uid=False)
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    ds.save_as(path, enforce_file_format=True)


def write_demo_dev_set(out_dir: str | Path, n: int = 8, seed: int = 0) -> Path:
    """Write ``n`` phantom images and ``dev.csv`` under ``out_dir``; return the CSV's path."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}.")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    reports = demo_reports()
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img = phantom(i % len(reports), rng)
        name = f"images/cxr_{i:03d}.{'dcm' if i % 4 == 3 else 'png'}"
        if name.endswith(".dcm"):
            _write_dicom(out / name, img, seed, i)
        else:
            _write_png(out / name, img)
        rows.append({"image": name, "report": reports[i % len(reports)]})
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=["image", "report"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return replace_atomically(out / DEV_CSV, buffer.getvalue(), private=False)


def write_demo_recipe(out_dir: str | Path, models_dir: str | Path, n_trials: int = 12) -> Path:
    """Write ``evolve.yaml`` beside ``dev.csv``: the demo models, CPU-sized settings."""
    import yaml

    models = Path(models_dir).expanduser().resolve()
    missing = [m for m in ALL_ROLES if not (models / m / "config.json").is_file()]
    if missing:
        raise ValueError(
            f"{models} does not hold the demo models (no {missing[0]}/config.json); "
            "write them with: jradi-engine demo-models DIR"
        )
    recipe = {
        "base": str(models / BASE_ROLE),
        "models": [  # in JRadiEvo's order: the VLM's tower, then the specialists
            {"path": str(models / m), "role": "vlm" if m == VLM_ROLE else "llm"}
            for m in MERGED_ROLES
        ],
        "device": "auto",
        "evolve": {"data": DEV_CSV, "n_trials": n_trials, "max_new_tokens": 32, "batch_size": 8},
    }
    target = Path(out_dir) / DEMO_RECIPE
    target.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), "utf-8")
    return target
