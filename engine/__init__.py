"""Headless tuning engine: demo models, merging, evolution, LoRA, export. Never imports Qt."""

import jradi_desktop  # noqa: F401  (sets the offline switches before any HF import)
