"""The model manager dialog and the first-start page, on the demo GGUF exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from jradi_desktop.models import ModelRegistry, ModelSpec
from jradi_desktop.ui.first_start import FirstStartPage
from jradi_desktop.ui.model_manager import ModelManagerDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models.json")


@pytest.fixture
def dialog(qtbot, registry: ModelRegistry) -> ModelManagerDialog:
    widget = ModelManagerDialog(registry)
    qtbot.addWidget(widget)
    return widget


def rows(dialog: ModelManagerDialog) -> list[list[str]]:
    table = dialog.table
    return [
        [table.topLevelItem(i).text(c) for c in range(table.columnCount())]
        for i in range(table.topLevelItemCount())
    ]


def test_adding_the_demo_vlm_lists_it_with_a_memory_estimate(qtbot, dialog, demo_gguf):
    with qtbot.waitSignal(dialog.defaultChanged) as changed:  # the first model is the default
        spec = dialog.add_model(demo_gguf["vlm"], demo_gguf["mmproj"], name="デモVLM")
    assert spec is not None and changed.args[0].name == "デモVLM"
    assert dialog.registry.names() == ["デモVLM"] and dialog.registry.default == "デモVLM"
    [row] = rows(dialog)
    assert row[:3] == ["デモVLM", "GGUF", "★ 既定"]
    assert str(demo_gguf["vlm"]) in row[3] and str(demo_gguf["mmproj"]) in row[3]
    estimate = dialog.check("デモVLM").memory_text(spec.context)
    assert estimate.endswith("GiB")
    assert f"必要メモリの目安：{estimate}" in dialog.details.text().replace("</b>", "")
    assert "あり（レポート作成可）" in dialog.details.text() and "llama" in dialog.details.text()
    assert "追加しました" in dialog.message.text() and estimate in dialog.message.text()


def test_mmproj_beside_the_model_is_found_and_names_come_from_the_folder(dialog, demo_gguf):
    spec = dialog.add_model(demo_gguf["vlm"])  # .../vlm/model.gguf + .../vlm/mmproj.gguf
    assert spec is not None and spec.name == "vlm" and spec.mmproj == demo_gguf["mmproj"]
    again = dialog.add_model(demo_gguf["vlm"])
    assert again is not None and again.name == "vlm (2)"
    base = dialog.add_model(demo_gguf["base"])
    assert base is not None and base.mmproj is None
    assert "なし（医療QAのみ）" in dialog.details.text()


def test_a_hugging_face_folder_is_added_with_gguf_only_settings_off(dialog, demo_dir):
    spec = dialog.add_model(demo_dir / "vlm")
    assert spec is not None and spec.kind == "hf" and spec.name == "vlm"
    assert rows(dialog)[0][1] == "HF" and "必要メモリの目安" in dialog.details.text()
    assert not dialog.gpu_layers.isEnabled() and dialog.context.isEnabled()


def test_a_missing_file_shows_the_japanese_error_and_is_not_added(dialog, tmp_path):
    missing = tmp_path / "届いていない" / "model.gguf"
    assert dialog.add_model(missing) is None
    text = dialog.message.text()
    assert "追加できませんでした" in text and "GGUF ファイルが見つかりません" in text
    assert str(missing) in text and "b3261e" in dialog.message.styleSheet()
    assert dialog.registry.names() == [] and rows(dialog) == []
    assert not ModelRegistry(dialog.registry.path).names()


def test_a_wrong_mmproj_is_refused_with_the_reason(dialog, demo_gguf):
    assert dialog.add_model(demo_gguf["base"], mmproj=demo_gguf["base"]) is None
    assert "画像エンコーダー（clip）の GGUF ではありません" in dialog.message.text()


def test_make_default_and_remove(qtbot, dialog, demo_gguf):
    dialog.add_model(demo_gguf["vlm"], name="vlm")
    dialog.add_model(demo_gguf["base"], name="base")
    assert dialog.registry.default == "vlm" and dialog.selected_name() == "base"
    assert dialog.default_button.isEnabled()
    with qtbot.waitSignal(dialog.defaultChanged) as changed:
        dialog.default_button.click()
    assert changed.args[0].name == "base" and dialog.registry.default == "base"
    assert ModelRegistry(dialog.registry.path).default == "base"
    assert {r[0]: r[2] for r in rows(dialog)} == {"base": "★ 既定", "vlm": ""}
    assert not dialog.default_button.isEnabled()
    with qtbot.waitSignal(dialog.defaultChanged) as changed:  # removing the default
        dialog.remove_model("base")
    assert changed.args[0].name == "vlm"
    assert ModelRegistry(dialog.registry.path).names() == ["vlm"]
    assert demo_gguf["base"].is_file()  # the file itself stays
    with qtbot.waitSignal(dialog.defaultChanged) as changed:
        dialog.remove_model("vlm")
    assert changed.args == [None] and rows(dialog) == []
    assert "登録されていません" in dialog.details.text()


def test_settings_edits_persist_in_the_registry(qtbot, dialog, demo_gguf):
    dialog.add_model(demo_gguf["vlm"], name="vlm")
    before = dialog.details.text()
    with qtbot.waitSignal(dialog.modelEdited):
        dialog.context.setValue(32768)
    dialog.gpu_layers.setValue(12)
    dialog.threads.setValue(4)
    dialog.template.setCurrentIndex(dialog.template.findText("bunny"))
    assert dialog.details.text() != before and "32,768 トークン" in dialog.details.text()
    saved = ModelRegistry(dialog.registry.path).get("vlm")
    assert (saved.context, saved.n_gpu_layers, saved.threads, saved.template) == (
        32768,
        12,
        4,
        "bunny",
    )
    dialog.threads.setValue(0)
    dialog.gpu_layers.setValue(-1)
    assert dialog.threads.text() == "自動" and dialog.gpu_layers.text() == "すべて"
    saved = ModelRegistry(dialog.registry.path).get("vlm")
    assert saved.threads is None and saved.n_gpu_layers == -1
    # a reopened dialog shows the stored settings
    again = ModelManagerDialog(ModelRegistry(dialog.registry.path))
    qtbot.addWidget(again)
    assert again.context.value() == 32768 and again.template.currentText() == "bunny"


def test_a_registered_model_whose_file_vanished_says_so(qtbot, registry, demo_gguf, tmp_path):
    copy = tmp_path / "copy" / "model.gguf"
    copy.parent.mkdir()
    copy.write_bytes(demo_gguf["base"].read_bytes())
    dialog = ModelManagerDialog(registry)
    qtbot.addWidget(dialog)
    dialog.add_model(copy)
    copy.unlink()
    reopened = ModelManagerDialog(ModelRegistry(registry.path))
    qtbot.addWidget(reopened)
    assert "このモデルは使えません" in reopened.details.text()
    assert "見つかりません" in reopened.details.text()


def test_changes_made_elsewhere_while_the_dialog_is_open_are_kept(qtbot, dialog, demo_gguf):
    dialog.add_model(demo_gguf["vlm"], name="vlm")
    elsewhere = ModelRegistry(dialog.registry.path)  # e.g. `jradi models add` in a terminal
    elsewhere.add(ModelSpec("terminal", "gguf", demo_gguf["base"]))
    with qtbot.waitSignal(dialog.modelEdited):
        dialog.context.setValue(8192)  # the dialog's edit replaces only its own entry
    saved = ModelRegistry(dialog.registry.path)
    assert saved.names() == ["terminal", "vlm"] and saved.get("vlm").context == 8192
    # a name taken elsewhere is numbered, not replaced
    elsewhere.add(ModelSpec("base", "gguf", demo_gguf["base"]))
    spec = dialog.add_model(demo_gguf["base"], name="base")
    assert spec is not None and spec.name == "base (2)"
    assert ModelRegistry(dialog.registry.path).get("base").path == demo_gguf["base"]
    assert [r[0] for r in rows(dialog)] == ["base", "base (2)", "terminal", "vlm"]


def test_editing_a_model_removed_elsewhere_says_so(qtbot, dialog, demo_gguf):
    dialog.add_model(demo_gguf["vlm"], name="vlm")
    ModelRegistry(dialog.registry.path).remove("vlm")
    dialog.context.setValue(8192)  # no exception escapes the slot
    assert "model 'vlm' is not registered" in dialog.message.text() or (
        "モデル 'vlm' は登録されていません" in dialog.message.text()
    )
    assert "b3261e" in dialog.message.styleSheet() and rows(dialog) == []
    assert ModelRegistry(dialog.registry.path).names() == []


def test_first_start_page_explains_and_offers_two_buttons(qtbot):
    page = FirstStartPage()
    qtbot.addWidget(page)
    text = page.text.text()
    assert "model.gguf" in text and "mmproj.gguf" in text and "jradi-engine export-gguf" in text
    assert "vision/" in text and "Bunny-v1.1" in text and "LLaVA" in text  # both families
    assert "JRadiEvo" in text and "export-gguf" in page.english.text()
    assert "vision/" in page.english.text() and "mmproj.gguf" in page.english.text()
    assert page.add_button.text() == "モデルを追加…"
    assert page.demo_button.text() == "デモモデルをインストール（臨床使用不可）"
    with qtbot.waitSignal(page.addRequested):
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(page.demoRequested):
        qtbot.mouseClick(page.demo_button, Qt.MouseButton.LeftButton)
