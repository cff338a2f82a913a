"""Dev-set columns and the demo's model roles, as the engine reads them and the wizard checks."""

from __future__ import annotations

# Dev-set columns, found by name (the first present wins).
IMAGE_COLUMNS = ("image", "image_path", "path", "file")
REPORT_COLUMNS = ("report", "text", "ja_text")
FINDINGS_COLUMNS = ("findings", "所見")

# ``jradi-engine demo-models`` writes one folder per role.
BASE_ROLE, VLM_ROLE = "base", "vlm"
LANGUAGE_ROLES = (BASE_ROLE, "med-a", "med-b", "ja")
ALL_ROLES = (*LANGUAGE_ROLES, VLM_ROLE)
MERGED_ROLES = (VLM_ROLE, *LANGUAGE_ROLES[1:])  # the models of the demo's evolve recipe
