"""``image_info``: a JSON-serialisable summary of an :class:`XrayImage` (CLI, logs, UI)."""

from __future__ import annotations

from typing import Any

from jradi_desktop.imaging._image import XrayImage


def image_info(image: XrayImage) -> dict[str, Any]:
    """Metadata and the default window as plain JSON types (str, int, float, list, None)."""
    window = image.default_window
    return {
        "source": str(image.source) if image.source is not None else None,
        "file_format": image.file_format,
        "modality": image.modality,
        "photometric": image.photometric,
        "rows": image.rows,
        "columns": image.columns,
        "frames": image.frames,
        "frame": image.frame,
        "bits_stored": image.bits_stored,
        "window_center": float(window.center),
        "window_width": float(window.width),
        "window_function": window.function,
        "header_windows": [
            {"center": w.center, "width": w.width, "explanation": w.explanation}
            for w in image.windows
        ],
        "voi_lut": bool(image.voi_luts),
        "voi_lut_function": image.voi_lut_function,
        "patient_name": image.patient_name,
        "patient_id": image.patient_id,
        "study_date": image.study_date,
        "view_position": image.view_position,
        "body_part": image.body_part,
        "specific_character_set": image.specific_character_set,
        "transfer_syntax": image.transfer_syntax_name or image.file_format,
        "transfer_syntax_uid": image.transfer_syntax_uid,
        "pixel_spacing": list(image.pixel_spacing) if image.pixel_spacing else None,
        "study_instance_uid": image.study_instance_uid,
        "series_instance_uid": image.series_instance_uid,
        "sop_instance_uid": image.sop_instance_uid,
        "sop_class_uid": image.sop_class_uid,
    }
