"""Is this plausibly a chest radiograph? Notes for images the report model was not made for.

The model writes confident chest findings for whatever it is given: a 1×1 pixel, an RT dose
grid, a holiday photo. Before that text is trusted, the facts the file itself states are
checked: the DICOM Modality (a chest radiograph is CR, DX, or a digitised film: RG, the
vendors' DR; OT and an empty value say nothing), Body Part Examined when it is given, real
colour content (a grey image stored as RGB is not colour), and a size too small to read.
Each finding is a :class:`PlausibilityNote` worded for the clinician, Japanese and English.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jradi_desktop.imaging._image import XrayImage

# Modalities of a (plain) chest radiograph, and those that say nothing about the content.
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG"})
UNSPECIFIC_MODALITIES = frozenset({"", "OT"})
# Body Part Examined values (any case, any part of the value) that are the chest.
CHEST_PARTS = ("CHEST", "THORAX", "LUNG", "HEART", "胸部", "肺")
UNSPECIFIC_PARTS = frozenset({"", "UNKNOWN", "ANY", "OTHER"})
MIN_SIDE = 256  # pixels; chest radiographs are 1,000 to 4,000 a side, the model reads 512
# Colour: a pixel whose channels differ by more than CHROMA (of 255) is coloured; an image is
# colour when more than COLOUR_SHARE of its pixels are (so a small coloured marker or the
# chroma noise of a JPEG-compressed grey image is not).
CHROMA = 32
COLOUR_SHARE = 0.05
_SAMPLES = 512  # rows and columns sampled at most for the colour check

_UNRELIABLE_JA = "所見は参考になりません。"
_UNRELIABLE_EN = "The findings are not reliable."


@dataclass(frozen=True)
class PlausibilityNote:
    """One reason to doubt that the image is a chest radiograph the model can read.

    ``code`` is stable (``modality``, ``body_part``, ``colour``, ``too_small``); ``ja`` and
    ``en`` are what the clinician reads."""

    code: str
    ja: str
    en: str

    def __str__(self) -> str:
        return f"{self.ja}\n{self.en}"

    def message(self, language: str = "ja") -> str:
        return self.ja if language.lower().startswith("ja") else self.en

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "ja": self.ja, "en": self.en}


def _is_colour(rgb: np.ndarray) -> bool:
    step_r = max(1, rgb.shape[0] // _SAMPLES)
    step_c = max(1, rgb.shape[1] // _SAMPLES)
    sample = rgb[::step_r, ::step_c].astype(np.int16)
    chroma = sample.max(axis=-1) - sample.min(axis=-1)
    return float(np.mean(chroma > CHROMA)) > COLOUR_SHARE


def _note(code: str, ja: str, en: str) -> PlausibilityNote:
    return PlausibilityNote(code, ja + _UNRELIABLE_JA, f"{en} {_UNRELIABLE_EN}")


def plausibility_notes(image: XrayImage) -> list[PlausibilityNote]:
    """The reasons, from the image's own header and pixels, why it may not be a chest
    radiograph the model can read; empty for an ordinary chest X-ray."""
    notes = []
    modality = image.modality.strip().upper()
    if modality not in RADIOGRAPH_MODALITIES | UNSPECIFIC_MODALITIES:
        notes.append(
            _note(
                "modality",
                f"胸部単純X線写真ではない可能性があります（Modality: {modality}）。",
                f"This may not be a plain chest radiograph (Modality: {modality}).",
            )
        )
    part = image.body_part.strip()
    if part.upper() not in UNSPECIFIC_PARTS and not any(w in part.upper() for w in CHEST_PARTS):
        notes.append(
            _note(
                "body_part",
                f"撮影部位が胸部ではありません（Body Part Examined: {part}）。",
                f"The examined body part is not the chest (Body Part Examined: {part}).",
            )
        )
    if image.rgb is not None and _is_colour(image.rgb):
        notes.append(
            _note(
                "colour",
                "カラー画像です。X線写真ではなく写真などの可能性があります。",
                "This is a colour image, possibly a photograph rather than a radiograph.",
            )
        )
    if min(image.rows, image.columns) < MIN_SIDE:
        size = f"{image.columns}×{image.rows}"
        notes.append(
            _note(
                "too_small",
                f"画像が小さすぎて読影できません（{size} ピクセル）。",
                f"The image is too small to read ({size} pixels).",
            )
        )
    return notes
