"""Every model family names the code the rest of the project dispatches on, and every name
resolves: a family is its package under ``architectures/``, its test and its README row; no
table outside ``architectures`` names a family."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jradi_desktop.architectures import (
    OPTIONAL_HOOKS,
    VISION_HOOKS,
    ArchitectureError,
    architectures,
    get,
    resolve,
    template_family,
)

ROOT = Path(__file__).resolve().parents[1]
VISION = [a for a in architectures() if a.has_vision]


@pytest.mark.parametrize("arch", VISION, ids=lambda a: a.name)
def test_every_vision_family_names_every_hook(arch) -> None:
    assert set(VISION_HOOKS) <= set(arch.hooks), sorted(set(VISION_HOOKS) - set(arch.hooks))
    assert arch.demo_layout is not None


@pytest.mark.parametrize("arch", architectures(), ids=lambda a: a.name)
def test_every_hook_resolves(arch) -> None:
    assert set(arch.hooks) <= set(VISION_HOOKS) | set(OPTIONAL_HOOKS), sorted(arch.hooks)
    for name, target in arch.hooks.items():
        found = arch.hook(name)
        assert found is resolve(target)
        if name == "export":  # a VisionExport
            assert callable(found.check) and callable(found.write) and found.what
        else:
            assert callable(found), f"{arch.name}.{name} -> {target}"
    if arch.template is not None:  # a template of its own: its handler with an mmproj
        assert "gguf_chat_handler" in arch.hooks


def test_the_hooks_take_what_their_callers_pass() -> None:
    for arch in VISION:
        rules = inspect.signature(arch.hook("shape_rules"))
        assert list(rules.parameters) == ["rules", "config", "text_hidden"]
        builder = inspect.signature(arch.hook("demo_builder"))
        assert list(builder.parameters) == ["vlm"]  # an engine.demo.DemoVlm
    assert get("llama").language_tower == "llama"
    assert all(get(a.language_tower).has_vision is False for a in architectures())


def test_a_missing_hook_is_named() -> None:
    with pytest.raises(ArchitectureError, match="names no 'export' hook; it names: "):
        get("llama").hook("export")


def test_the_gguf_handler_follows_the_template() -> None:
    assert template_family("llama3").name == "llama"
    assert template_family("bunny").name == "bunny_s2"
    assert template_family("auto").name == "bunny_s2"  # the JRadiEvo VLM's


def test_no_family_name_is_dispatched_on_outside_architectures() -> None:
    """``arch.name == "bunny_s2"`` and ``{"bunny_s2": ...}`` tables live nowhere but the
    declarations (asking the registry for a family, ``get("bunny_s2")``, is not dispatch)."""
    names = "|".join(a.name for a in VISION)
    dispatch = re.compile(
        rf'(arch|architecture|family)\.name\s*(==|!=|in\b|not\s+in\b)|"({names})"\s*:'
    )
    hits = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for package in ("jradi_desktop", "engine")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "architectures" not in path.parts
        for text in [path.read_text(encoding="utf-8")]
        for m in dispatch.finditer(text)
    ]
    assert not hits, hits


def test_the_declarations_import_nothing_heavy() -> None:
    code = (
        "import sys, jradi_desktop.architectures as a; a.architectures(); "
        "print(sorted(m for m in ('torch', 'numpy', 'onnxruntime', 'jradi_desktop.models', "
        "'jradi_desktop.inference', 'engine') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
