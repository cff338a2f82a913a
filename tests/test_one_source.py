"""Each shared fact is written once in the tree (issue #15): the prompts, the chat templates,
the model's input size and the architectures' key prefixes. A copy would drift silently.

The tree is read as Python: every string constant (implicit concatenation joined, f-string
parts included) of ``jradi_desktop/``, ``engine/``, ``tools/`` and ``benchmarks/``. The facts
themselves come from their one source, so the test follows a rename.

Issue #24 adds the settings' facts: the choices, defaults and limits of the engine's settings
live in ``jradi_desktop.contract``; the engine's validation accepts exactly those choices and
the wizard's forms offer them with the engine's defaults; one atomic file writer; event tags
are the contract's payloads, not strings written again by either side.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from engine.lora import _prompts as lora_prompts
from jradi_desktop import contract
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
    "an image part (Hugging Face)": ("{% if part['type'] == 'image' %}", (BUNNY_CHAT_TEMPLATE,)),
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


def test_the_image_placeholder_is_written_once():
    from jradi_desktop.architectures import IMAGE_PLACEHOLDER

    assert "{{ '" + IMAGE_PLACEHOLDER + "\n' }}" in BUNNY_CHAT_TEMPLATE
    written = [name for name, text in _constants() if text == IMAGE_PLACEHOLDER]
    assert written == ["jradi_desktop/architectures/_chat.py"], written


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
    own = f"jradi_desktop/architectures/{type(arch).__module__.rsplit('.', 1)[-1]}/__init__.py"
    where = set(_holding(prefix))
    assert own in where, f"{prefix!r} is not written in {own}"
    outside = sorted(w for w in where if not w.startswith("jradi_desktop/architectures/"))
    assert not outside, f"{prefix!r} is copied in {outside}"


# -- issue #24: the settings' choices, defaults and limits; one writer; event tags ---------
OWN = ("engine", "jradi_desktop", "tools")
NOT_OURS = ("jradi_desktop/architectures/", "jradi_desktop/inference/", "jradi_desktop/pacs/")


def sources() -> dict[str, str]:
    """The project's tracked and new Python files (the paths relative to the root)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *OWN],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {
        p: (ROOT / p).read_text(encoding="utf-8")
        for p in listed
        if p.endswith(".py") and (ROOT / p).is_file()
    }


# -- choices ---------------------------------------------------------------------------------
def test_the_engine_accepts_exactly_the_contract_choices():
    from engine.evolve._settings import EvolveSettings, ExportSettings
    from engine.evolve._space import SAMPLER_FACTORIES
    from engine.export._llama import OUTTYPES
    from engine.lora._config import GGUFSettings, LoraSettings, LoraTrainConfig

    for model in (GGUFSettings, ExportSettings):
        quantize = model.model_fields["quantize"].annotation
        assert set(get_args(quantize)) - {type(None)} == {contract.QuantType}
        assert model.model_fields["outtype"].annotation == contract.OutType
    assert get_args(contract.QuantType) == contract.QUANT_TYPES == ("Q8_0", "Q4_K_M")
    assert set(OUTTYPES) == set(contract.OUT_TYPES)
    assert LoraTrainConfig.model_fields["prompt_format"].annotation == contract.PromptFormat
    targets = LoraSettings.model_fields["target_modules"].annotation
    assert contract.TargetModules in get_args(targets)
    assert tuple(SAMPLER_FACTORIES) == contract.SAMPLERS and "random" in contract.SAMPLERS
    for sampler in contract.SAMPLERS:
        assert EvolveSettings(data="dev.csv", sampler=sampler).problems(2) == []
    assert EvolveSettings(data="dev.csv", sampler="grid").problems(2)


@pytest.mark.parametrize("device", [*contract.DEVICES, "cuda:1"])
def test_every_device_a_form_offers_is_accepted(device):
    from engine.lora._config import parse_lora_config
    from engine.merge._recipe import Recipe

    assert contract.device_problem(device) is None
    config = {"base_model": "b", "data": ["d.jsonl"], "max_steps": 1, "device": device}
    assert parse_lora_config(config).device == device
    with pytest.raises(ValidationError) as error:  # a recipe without parameters, not the device
        Recipe(base="b", models=["m"], device=device)
    assert "must be auto, cpu" not in str(error.value)
    with pytest.raises(ValidationError, match="must be auto, cpu, cuda or cuda:N"):
        Recipe(base="b", models=["m"], device="gpu")


def test_the_cli_offers_the_contract_choices():
    from engine.cli import build_parser

    parser = build_parser()
    actions = {
        (name, a.dest): a
        for name, sub in parser._subparsers._group_actions[0].choices.items()  # type: ignore[union-attr]
        for a in sub._actions
    }
    assert tuple(actions["export-gguf", "quantize"].choices) == contract.QUANT_TYPES
    assert tuple(actions["export-gguf", "outtype"].choices) == contract.OUT_TYPES
    assert tuple(actions["eval-qa", "prompt_format"].choices) == contract.PROMPT_FORMATS
    assert actions["eval-qa", "max_new_tokens"].default == contract.QA_MAX_NEW_TOKENS.default


# -- defaults and limits ---------------------------------------------------------------------
def field_limits(model, name):
    info = model.model_fields[name]
    bounds = {k: getattr(m, k) for m in info.metadata for k in ("ge", "gt", "lt") if hasattr(m, k)}
    return info.default, bounds


LORA = {
    "r": contract.LORA_R, "alpha": contract.LORA_ALPHA, "dropout": contract.LORA_DROPOUT,
}  # fmt: skip
TRAIN = {
    "learning_rate": contract.LORA_LEARNING_RATE,
    "batch_size": contract.LORA_BATCH_SIZE,
    "max_input_length": contract.LORA_MAX_INPUT_LENGTH,
    "max_target_length": contract.LORA_MAX_TARGET_LENGTH,
    "save_every": contract.LORA_SAVE_EVERY,
}
EVOLVE = {
    "n_trials": contract.EVOLVE_N_TRIALS,
    "max_new_tokens": contract.EVOLVE_MAX_NEW_TOKENS,
    "batch_size": contract.EVOLVE_BATCH_SIZE,
}


def test_the_engine_defaults_and_bounds_are_the_contract_s():
    from engine.evolve._settings import EvolveSettings
    from engine.lora._config import LoraSettings, LoraTrainConfig

    for model, limits in ((LoraSettings, LORA), (LoraTrainConfig, TRAIN), (EvolveSettings, EVOLVE)):
        for name, limit in limits.items():
            default, bounds = field_limits(model, name)
            wanted = {
                k: getattr(limit, k) for k in ("ge", "gt", "lt") if getattr(limit, k) is not None
            }
            assert (default, bounds) == (limit.default, wanted), name
    assert LoraTrainConfig.model_fields["prompt_format"].default == contract.LORA_PROMPT_FORMAT
    assert LoraSettings.model_fields["target_modules"].default == contract.LORA_TARGET_MODULES
    assert EvolveSettings.model_fields["sampler"].default == contract.EVOLVE_SAMPLER


@pytest.fixture
def wizard(qtbot, tmp_path):
    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.ui.tuning import TuningWidget

    registry = ModelRegistry(tmp_path / "models.json")
    widget = TuningWidget(registry, demo_models=None, workspace_root=tmp_path / "tuning")
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown(3000)


def test_the_forms_show_the_engine_defaults_and_offer_only_what_it_accepts(wizard):
    from engine.evolve._settings import EvolveSettings
    from engine.lora._config import LoraSettings, LoraTrainConfig
    from jradi_desktop.ui.tuning._export import QUANTIZATIONS

    lora, evolve = wizard.lora.form, wizard.evolve.form
    boxes = [
        (lora.r, LoraSettings, "r"), (lora.alpha, LoraSettings, "alpha"),
        (lora.dropout, LoraSettings, "dropout"), (lora.batch_size, LoraTrainConfig, "batch_size"),
        (lora.max_input, LoraTrainConfig, "max_input_length"),
        (lora.max_target, LoraTrainConfig, "max_target_length"),
        (lora.save_every, LoraTrainConfig, "save_every"),
        (evolve.trials, EvolveSettings, "n_trials"),
        (evolve.max_new_tokens, EvolveSettings, "max_new_tokens"),
        (evolve.batch_size, EvolveSettings, "batch_size"),
    ]  # fmt: skip
    for box, model, name in boxes:
        default, bounds = field_limits(model, name)
        assert box.value() == pytest.approx(default), name
        low, high = box.minimum(), box.maximum()
        assert low >= bounds.get("ge", low) and low > bounds.get("gt", low - 1), name
        assert high < bounds.get("lt", high + 1), name
    assert float(lora.learning_rate.text()) == LoraTrainConfig.model_fields["learning_rate"].default
    assert lora.steps.value() == contract.LORA_MAX_STEPS.default
    assert lora.config()["lora"]["target_modules"] == contract.LORA_TARGET_MODULES
    offered = [lora.prompt_format.itemText(i) for i in range(lora.prompt_format.count())]
    assert tuple(offered) == contract.PROMPT_FORMATS
    assert lora.prompt_format.currentText() == contract.LORA_PROMPT_FORMAT
    samplers = [evolve.sampler.itemData(i) for i in range(evolve.sampler.count())]
    assert tuple(samplers) == contract.SAMPLERS and "random" in samplers
    for form in (lora, evolve):
        devices = [form.device.itemText(i) for i in range(form.device.count())]
        assert tuple(devices) == contract.DEVICES
    assert (None, *contract.QUANT_TYPES) == QUANTIZATIONS
    assert wizard.lora.evaluation.max_new_tokens.value() == contract.QA_MAX_NEW_TOKENS.default


def test_no_choice_list_is_written_again():
    """The quant types and prompt formats appear as a list only in the contract."""
    lists = {
        "quant types": re.compile(r"""["']Q8_0["']\s*,\s*["']Q4_K_M["']"""),
        "prompt formats": re.compile(r"""["']alpaca["']\s*,\s*["']medpalm["']"""),
        "samplers": re.compile(r"""["']cmaes["']\s*,\s*["']tpe["']"""),
        "devices": re.compile(r"""["']auto["']\s*,\s*["']cuda["']\s*,\s*["']cpu["']"""),
        "device rule": re.compile(r"auto\|cpu\|cuda"),
    }
    found = {
        (what, path)
        for path, text in sources().items()
        for what, pattern in lists.items()
        if pattern.search(text) and path != "jradi_desktop/contract/_choices.py"
    }
    assert found == set()


# -- one atomic writer -----------------------------------------------------------------------
# Renames that are not a file writer's: whole folders staged and put in place, a corrupt
# database moved aside; report exports verify what they wrote and keep their own writer.
RENAMES_ALLOWED = {
    "jradi_desktop/atomic_file.py",
    "jradi_desktop/reports/_atomic.py",
    "jradi_desktop/store/_db.py",
    "engine/evolve/_export.py",
    "engine/lora/_checkpoint.py",
    "engine/lora/_output.py",
    "engine/merge/_job.py",
}


def test_one_atomic_file_writer():
    """Nothing but ``jradi_desktop.atomic_file`` writes a temporary file and renames it over
    another: no other ``write_atomic``, ``mkstemp`` or ``os.replace``."""
    writer = re.compile(r"def \w*write_atomic\w*|mkstemp\(|os\.replace\(")
    found = {
        path
        for path, text in sources().items()
        if writer.search(text) and path not in RENAMES_ALLOWED and not path.startswith(NOT_OURS)
    }
    assert found == set(), "write through jradi_desktop.atomic_file.replace_atomically"


# -- events ----------------------------------------------------------------------------------
def test_event_tags_are_the_contract_payloads():
    """No engine job or wizard module builds a ``data["event"]`` tag itself: each tag is a
    payload's ``TAG``."""
    tagged = re.compile(r"""["']event["']\s*:|\bevent=["']|\.get\(["']event["']\)""")
    found = {
        path
        for path, text in sources().items()
        if tagged.search(text) and path.startswith(("engine/", "jradi_desktop/ui/tuning/"))
    }
    assert found == set()
    tags = [c.TAG for c in vars(contract).values() if isinstance(c, type)
            and issubclass(c, contract.Payload) and c.TAG]  # fmt: skip
    assert len(tags) == len(set(tags))
    assert {"image-rows", "waiting", "stale-exports", "data_problems", "start"} <= set(tags)


def test_old_event_lines_still_read():
    """Lines an older engine wrote (before the dev-set and study tags) read as before, and
    a payload ignores fields it does not know."""
    assert contract.ImageRows.from_data(
        {"event": "image-rows", "family": "bunny_s2", "images_encoded": 8, "new": 1}
    ) == contract.ImageRows("bunny_s2", 8)
    assert contract.TrialStarted.from_data({"event": "trial-started", "trial": 2}) == (
        contract.TrialStarted(2)
    )
    warning = contract.DataProblems(3, ["a.jsonl:2: not valid JSON"]).event(
        "lora", contract.LOG, ""
    )
    assert warning.is_warning and not contract.Event("lora", contract.LOG, "x").is_warning
