"""Each shared fact is written once in the tree (issue #15): the prompts, the chat templates,
the model's input size and the architectures' key prefixes. A copy would drift silently.

The tree is read as Python: every string constant (implicit concatenation joined, f-string
parts included) of ``jradi_desktop/``, ``engine/``, ``tools/`` and ``benchmarks/``. The facts
themselves come from their one source, so the test follows a rename.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from engine.lora import _prompts as lora_prompts
from jradi_desktop.architectures import architectures
from jradi_desktop.architectures.bunny_s2 import BUNNY_CHAT_TEMPLATE, BUNNY_SYSTEM
from jradi_desktop.architectures.llama import LLAMA3_CHAT_TEMPLATE, LLAMA3_TEXT_TEMPLATE
from jradi_desktop.imaging import MODEL_SIZE
from jradi_desktop.inference import _prompts
from jradi_desktop.inference._chat_handlers import BunnyChatHandler, Llama3VisionChatHandler

ROOT = Path(__file__).resolve().parents[1]
TREES = ("jradi_desktop", "engine", "tools", "benchmarks")

PROMPTS = {
    "REPORT_PROMPT": _prompts.REPORT_PROMPT,
    "QA_SYSTEM_PROMPT": _prompts.QA_SYSTEM_PROMPT,
    "CHOICE_INSTRUCTION": _prompts.CHOICE_INSTRUCTION,
    "BUNNY_SYSTEM": BUNNY_SYSTEM,
    "ALPACA_TASK": lora_prompts.ALPACA_TASK,
    "ALPACA_TASK_NO_INPUT": lora_prompts.ALPACA_TASK_NO_INPUT,
    "choice task": lora_prompts._CHOICE_TASK,
    "numeric task": lora_prompts._NUMERIC_TASK,
}

# A fragment only its template has, and the templates (all renderings) that must hold it.
TEMPLATE_FRAGMENTS = {
    "Bunny's user turn": ("'USER: '", (BUNNY_CHAT_TEMPLATE, BunnyChatHandler.CHAT_FORMAT)),
    "Llama-3's generation prompt": (
        "<|start_header_id|>assistant<|end_header_id|>",
        (LLAMA3_CHAT_TEMPLATE, LLAMA3_TEXT_TEMPLATE, Llama3VisionChatHandler.CHAT_FORMAT),
    ),
    "an image part (Hugging Face)": ("{{ '<image>\n' }}", (BUNNY_CHAT_TEMPLATE,)),
    "an image part (llama.cpp)": ("content.image_url.url", (BunnyChatHandler.CHAT_FORMAT,)),
}


@functools.cache
def _constants() -> tuple[tuple[str, str], ...]:
    """(file, text) for every string constant of the tree."""
    found = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            name = str(path.relative_to(ROOT))
            found += [
                (name, node.value)
                for node in ast.walk(module)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            ]
    return tuple(found)


def _holding(fragment: str) -> list[str]:
    """The files of the constants that contain ``fragment``, once per constant."""
    return [name for name, text in _constants() if fragment in text]


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[。.])\s*", text, maxsplit=1)[0]


@pytest.mark.parametrize("name", PROMPTS)
def test_each_prompt_is_written_once(name):
    sentence = _first_sentence(PROMPTS[name])
    assert len(sentence) >= 10, sentence  # long enough to be the prompt's own
    assert len(_holding(sentence)) == 1, f"{name} ({sentence!r}) is in {_holding(sentence)}"


@pytest.mark.parametrize("name", TEMPLATE_FRAGMENTS)
def test_each_chat_template_is_written_once(name):
    fragment, templates = TEMPLATE_FRAGMENTS[name]
    assert all(fragment in template for template in templates)
    assert len(_holding(fragment)) == 1, f"{name} ({fragment!r}) is in {_holding(fragment)}"


def test_the_model_input_size_is_written_once():
    width, height = MODEL_SIZE
    pattern = re.compile(rf"\(\s*{width}\s*,\s*{height}\s*\)")
    found = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for tree in TREES
        for path in sorted((ROOT / tree).rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for m in pattern.finditer(text)
    ]
    assert len(found) == 1 and found[0].startswith("jradi_desktop/imaging/"), found


@pytest.mark.parametrize("arch", [a for a in architectures() if a.has_vision], ids=lambda a: a.name)
@pytest.mark.parametrize("part", ["vision", "projector"])
def test_key_prefixes_are_declared_by_their_family_only(arch, part):
    """A family's stored prefixes are written in its declaration; every other tool asks it."""
    prefix = arch.stored_key(part, "")
    own = f"jradi_desktop/architectures/{type(arch).__module__.rsplit('.', 1)[-1]}.py"
    where = set(_holding(prefix))
    assert own in where, f"{prefix!r} is not written in {own}"
    outside = sorted(w for w in where if not w.startswith("jradi_desktop/architectures/"))
    assert not outside, f"{prefix!r} is copied in {outside}"
