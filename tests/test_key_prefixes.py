"""Only the architecture registry knows where a model family keeps its parts.

The rule: no module of ``jradi_desktop/`` or ``engine/`` outside ``jradi_desktop/architectures/``
names a checkpoint key prefix (``vision_tower``, ``multi_modal_projector``, ``mm_projector``,
``language_model.``) in code: not in a string literal (f-strings included), not as a name or
attribute (``model.vision_tower``, ``self.language_model.embed_tokens``). Comments and
docstrings may mention them in prose. Config keys that merely contain the words
(``mm_vision_tower``, ``mm_projector_type``) are not prefixes and are allowed. A tool that
needs a key asks the family (``split_key``, ``stored_key``, ``language_name``).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("jradi_desktop", "engine")
REGISTRY = ROOT / "jradi_desktop" / "architectures"

# a prefix as a whole identifier: not part of a longer one (mm_vision_tower, mm_projector_type)
_WORD = r"(?<![A-Za-z0-9_])(?:vision_tower|multi_modal_projector|mm_projector)(?![A-Za-z0-9_])"
_STRING = re.compile(_WORD + r"|(?<![A-Za-z0-9_])language_model\.")
_NAMES = {"vision_tower", "multi_modal_projector", "mm_projector"}


def _docstring_lines(tree: ast.AST) -> set[int]:
    """First lines of the string statements (docstrings and other bare strings): prose."""
    lines = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            lines.add(node.lineno)
    return lines


def offences(source: str) -> list[tuple[int, str]]:
    """(line, token) for every prefix ``source`` names in code."""
    prose = _docstring_lines(ast.parse(source))
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    found = []
    for i, tok in enumerate(tokens):
        code_string = tok.type == tokenize.STRING and tok.start[0] not in prose
        if (code_string and _STRING.search(tok.string)) or (
            tok.type == tokenize.NAME and tok.string in _NAMES
        ):
            found.append((tok.start[0], tok.string))
        elif tok.type == tokenize.NAME and tok.string == "language_model":
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            before = tokens[i - 1] if i else None
            if (after is not None and after.string == ".") or (
                before is not None and before.string == "."
            ):  # an attribute path through the tower: model.language_model, language_model.x
                found.append((tok.start[0], tok.string))
    return found


def _modules() -> list[Path]:
    paths = []
    for top in SCANNED:
        paths += [p for p in (ROOT / top).rglob("*.py") if REGISTRY not in p.parents]
    return sorted(paths)


def test_the_scanner_sees_code_and_skips_prose() -> None:
    source = '''"""Docstring naming vision_tower.* and language_model. in prose."""
# a comment about model.mm_projector.0.weight
x = "model.vision_tower.vision_tower.vision_model."
y = config.get("mm_vision_tower"), config.get("mm_projector_type")
z = model.model.vision_tower
w = f"{prefix}language_model.model."
v = self.language_model.embed_tokens
language_model = build()
'''
    assert [line for line, _ in offences(source)] == [3, 5, 6, 7]


def test_no_module_outside_the_registry_names_a_key_prefix() -> None:
    found = []
    for path in _modules():
        for line, token in offences(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{line}: {token}")
    assert not found, "key prefixes outside jradi_desktop/architectures/:\n" + "\n".join(found)
