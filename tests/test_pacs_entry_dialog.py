"""「PACS の設定」: entries added, edited, renamed and deleted from the app write pacs.json as
`jradi pacs add` does; bad values are named and nothing is written; 接続確認 (C-ECHO) runs off
the UI thread against a real Orthanc and against a closed or silent port."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from orthanc_server import free_port, orthanc_server
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from jradi_desktop.pacs import PacsEntry, PacsRegistry, StudyCache
from jradi_desktop.ui.pacs_entries_dialog import PacsEntriesDialog
from jradi_desktop.ui.pacs_panel import PacsPanel

pytestmark = pytest.mark.gui
RED = "#b02a37"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PacsRegistry:
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    return PacsRegistry(tmp_path / "pacs.json")


@pytest.fixture
def dialog(registry: PacsRegistry, qtbot) -> PacsEntriesDialog:
    dialog = PacsEntriesDialog(registry)
    qtbot.addWidget(dialog)
    return dialog


def stored(registry: PacsRegistry) -> dict[str, PacsEntry]:
    """pacs.json as a fresh registry reads it."""
    fresh = PacsRegistry(registry.path)
    return {name: fresh.get(name) for name in fresh.names()}


def fill(dialog: PacsEntriesDialog, name: str, host: str, port: int, aet: str,
         our_aet: str = "JRADI", timeout: float = 30.0) -> None:  # fmt: skip
    dialog.name.setText(name)
    dialog.host.setText(host)
    dialog.port.setValue(port)
    dialog.aet.setText(aet)
    dialog.our_aet.setText(our_aet)
    dialog.timeout.setValue(timeout)


def form_texts(dialog: PacsEntriesDialog) -> list[str]:
    edits = (dialog.name, dialog.host, dialog.aet, dialog.our_aet, *dialog.tls_edits)
    return [e.text() for e in edits] + [dialog.port.text(), dialog.timeout.text()]


def select(dialog: PacsEntriesDialog, name: str) -> None:
    items = [dialog.entry_list.item(i) for i in range(dialog.entry_list.count())]
    [item] = [i for i in items if i.text().startswith(f"{name} (")]
    dialog.entry_list.setCurrentItem(item)


def test_adding_an_entry_writes_exactly_the_form(dialog, registry, qtbot):
    assert dialog.entry_list.count() == 0 and not dialog.delete_button.isEnabled()
    assert (dialog.port.value(), dialog.our_aet.text(), dialog.timeout.value()) == (
        104, "JRADI", 30.0)  # fmt: skip
    fill(dialog, "院内PACS", "10.0.0.5", 11112, "PACS_AET", our_aet="JRADI_WS1", timeout=12.5)
    dialog.tls_box.setChecked(True)
    dialog.tls_ca.setText("/etc/pki/ca.pem")
    dialog.tls_cert.setText("/etc/pki/ws1.pem")
    dialog.tls_key.setText("/etc/pki/ws1.key")
    with qtbot.waitSignal(dialog.entriesChanged, timeout=1000):
        dialog.save_button.click()
    assert stored(registry) == {
        "院内PACS": PacsEntry("院内PACS", "10.0.0.5", 11112, "PACS_AET", "JRADI_WS1",
                              "/etc/pki/ca.pem", "/etc/pki/ws1.pem", "/etc/pki/ws1.key", 12.5)
    }  # fmt: skip
    assert dialog.status.text() == "PACS「院内PACS」を保存しました。"
    assert [dialog.entry_list.item(0).text()] == ["院内PACS (PACS_AET@10.0.0.5:11112)"]
    assert dialog.selected == "院内PACS" and dialog.delete_button.isEnabled()

    dialog.new_button.click()  # a second one, without TLS: no TLS fields stored
    assert dialog.selected is None and dialog.name.text() == "" and dialog.port.value() == 104
    dialog.tls_ca.setText("/etc/pki/ca.pem")
    fill(dialog, "検診PACS", "pacs2.hospital.local", 104, "KENSHIN")
    with qtbot.waitSignal(dialog.entriesChanged, timeout=1000):
        dialog.save_button.click()
    assert stored(registry)["検診PACS"] == PacsEntry("検診PACS", "pacs2.hospital.local", 104,
                                                     "KENSHIN")  # fmt: skip
    assert dialog.entry_list.count() == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("aet", "A" * 17, f"{'A' * 17!r} は AE タイトルとして使えません（半角英数字など 1〜16"),
        ("host", "", "PACS '院内PACS': ホストが空です。"),
        ("name", "  ", "PACS の名前が空です。"),
        ("tls", "", "DICOM TLS には PACS の証明書を確かめる CA ファイルが必要です"),
        ("tls_cert", "/etc/pki/ws1.pem", "TLS のクライアント証明書と秘密鍵は両方指定してください"),
    ],
)  # fmt: skip
def test_an_invalid_value_is_named_and_nothing_is_written(
    dialog, registry, qtbot, field, value, message
):
    registry.add(PacsEntry("既存", "10.0.0.9", 104, "OLD"))
    before = registry.path.read_bytes()
    dialog.refresh()
    dialog.new_button.click()
    fill(dialog, "院内PACS", "10.0.0.5", 104, "PACS_AET")
    if field == "tls":
        dialog.tls_box.setChecked(True)
    elif field == "tls_cert":
        dialog.tls_box.setChecked(True)
        dialog.tls_ca.setText("/etc/pki/ca.pem")
        dialog.tls_cert.setText(value)
    else:
        getattr(dialog, field).setText(value)
    typed = form_texts(dialog)
    with qtbot.assertNotEmitted(dialog.entriesChanged):
        dialog.save_button.click()
    assert message in dialog.status.text()
    assert RED in dialog.status.styleSheet()
    assert registry.path.read_bytes() == before
    assert form_texts(dialog) == typed and dialog.tls_box.isChecked() == field.startswith("tls")
    assert dialog.entry_list.count() == 1


def test_editing_the_selected_entry_replaces_it(dialog, registry, qtbot):
    registry.add(PacsEntry("院内PACS", "10.0.0.5", 104, "PACS_AET", tls_ca="/etc/pki/ca.pem"))
    registry.add(PacsEntry("検診PACS", "10.0.0.6", 104, "KENSHIN"))
    dialog.refresh()
    select(dialog, "院内PACS")
    assert dialog.selected == "院内PACS"
    assert (dialog.host.text(), dialog.aet.text(), dialog.tls_box.isChecked()) == (
        "10.0.0.5", "PACS_AET", True)  # fmt: skip
    assert dialog.tls_ca.text() == "/etc/pki/ca.pem"
    dialog.host.setText("10.0.0.50")
    dialog.port.setValue(4242)
    dialog.tls_box.setChecked(False)
    with qtbot.waitSignal(dialog.entriesChanged, timeout=1000):
        dialog.save_button.click()
    assert stored(registry) == {
        "院内PACS": PacsEntry("院内PACS", "10.0.0.50", 4242, "PACS_AET"),
        "検診PACS": PacsEntry("検診PACS", "10.0.0.6", 104, "KENSHIN"),
    }
    select(dialog, "検診PACS")  # the list fills the form from pacs.json
    assert dialog.host.text() == "10.0.0.6" and not dialog.tls_box.isChecked()


def test_renaming_the_selected_entry_removes_the_old_name(dialog, registry, qtbot):
    registry.add(PacsEntry("old", "10.0.0.5", 104, "PACS_AET", timeout=5))
    dialog.refresh()
    select(dialog, "old")
    dialog.name.setText("院内PACS")
    with qtbot.waitSignal(dialog.entriesChanged, timeout=1000):
        dialog.save_button.click()
    assert stored(registry) == {"院内PACS": PacsEntry("院内PACS", "10.0.0.5", 104, "PACS_AET",
                                                      timeout=5)}  # fmt: skip
    assert dialog.selected == "院内PACS" and dialog.entry_list.count() == 1


def test_renaming_onto_another_entry_is_refused(dialog, registry, qtbot):
    registry.add(PacsEntry("a", "10.0.0.5", 104, "A"))
    registry.add(PacsEntry("b", "10.0.0.6", 104, "B"))
    before = registry.path.read_bytes()
    dialog.refresh()
    select(dialog, "a")
    dialog.name.setText("b")
    with qtbot.assertNotEmitted(dialog.entriesChanged):
        dialog.save_button.click()
    assert "PACS 名 'b' は既に登録されています" in dialog.status.text()
    assert registry.path.read_bytes() == before and dialog.name.text() == "b"


def test_a_new_entry_with_a_taken_name_is_refused(dialog, registry, qtbot):
    registry.add(PacsEntry("院内PACS", "10.0.0.5", 104, "PACS_AET"))
    before = registry.path.read_bytes()
    dialog.refresh()
    dialog.new_button.click()
    fill(dialog, "院内PACS", "10.9.9.9", 104, "OTHER")
    with qtbot.assertNotEmitted(dialog.entriesChanged):
        dialog.save_button.click()
    text = dialog.status.text()
    assert "PACS 名 '院内PACS' は既に登録されています（院内PACS (PACS_AET@10.0.0.5:104)）" in text
    assert RED in dialog.status.styleSheet()
    assert registry.path.read_bytes() == before
    assert dialog.host.text() == "10.9.9.9" and dialog.selected is None


def test_delete_asks_first_then_removes(dialog, registry, qtbot, monkeypatch):
    registry.add(PacsEntry("院内PACS", "10.0.0.5", 104, "PACS_AET"))
    registry.add(PacsEntry("検診PACS", "10.0.0.6", 104, "KENSHIN"))
    dialog.refresh()
    select(dialog, "院内PACS")
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def question(_parent, _title, text, *_args):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    with qtbot.assertNotEmitted(dialog.entriesChanged):
        dialog.delete_button.click()
    assert "院内PACS" in asked[0] and len(stored(registry)) == 2

    answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(dialog.entriesChanged, timeout=1000):
        dialog.delete_button.click()
    assert list(stored(registry)) == ["検診PACS"]
    assert dialog.status.text() == "PACS「院内PACS」を削除しました。"
    assert dialog.entry_list.count() == 1 and dialog.selected is None
    assert dialog.name.text() == "" and not dialog.delete_button.isEnabled()


def test_the_panel_lists_an_entry_added_in_the_dialog(registry, qtbot, tmp_path):
    panel = PacsPanel(registry, StudyCache(tmp_path / "cache"))
    qtbot.addWidget(panel)
    assert panel.entry_box.count() == 0
    assert "「PACS の設定…」で登録してください" in panel.status.text()
    assert panel.settings_button.text() == "PACS の設定…"

    def in_the_dialog() -> None:
        dialog = panel.findChild(PacsEntriesDialog)
        try:
            assert dialog.isModal() and dialog.isVisible()
            fill(dialog, "院内PACS", "10.0.0.5", 104, "PACS_AET")
            dialog.save_button.click()
        finally:
            dialog.close_button.click()

    QTimer.singleShot(0, in_the_dialog)
    panel.settings_button.click()  # returns when the dialog is closed
    assert [panel.entry_box.itemText(i) for i in range(panel.entry_box.count())] == ["院内PACS"]
    assert panel.entry_box.currentText() == "院内PACS" and panel.status.text() == ""


def _echo(dialog: PacsEntriesDialog, qtbot, timeout_ms: int) -> list[float]:
    """Click 接続確認 and wait for the answer; the event loop's ticks meanwhile."""
    ticks: list[float] = []
    timer = QTimer(dialog, interval=50)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    dialog.echo_button.click()
    assert not dialog.echo_button.isEnabled()  # the request runs on its own thread
    assert dialog.status.text().startswith("接続を確認しています…")
    qtbot.waitUntil(lambda: dialog.job is None, timeout=timeout_ms)
    timer.stop()
    assert dialog.echo_button.isEnabled()
    return ticks


@pytest.mark.slow
def test_connection_check_against_orthanc_without_saving(dialog, registry, qtbot, tmp_path):
    with orthanc_server(tmp_path / "orthanc") as server:
        fill(dialog, "院内PACS", server.host, server.dicom_port, server.aet, timeout=10)
        _echo(dialog, qtbot, 15000)
    address = f"院内PACS (ORTHANC@127.0.0.1:{server.dicom_port})"
    assert dialog.status.text() == f"接続できました（{address}）"
    assert RED not in dialog.status.styleSheet()
    assert not registry.path.exists()  # tested, not saved


def test_connection_check_to_a_closed_port_names_the_pacs(dialog, registry, qtbot):
    port = free_port()
    fill(dialog, "closed", "127.0.0.1", port, "ORTHANC", timeout=2)
    started = time.monotonic()
    _echo(dialog, qtbot, 10000)
    assert time.monotonic() - started < 10
    text = dialog.status.text()
    assert f"PACS closed (ORTHANC@127.0.0.1:{port})" in text and "接続を拒否されました" in text
    assert RED in dialog.status.styleSheet()
    assert not registry.path.exists()


@pytest.mark.slow
def test_connection_check_to_a_silent_port_keeps_the_dialog_running(dialog, qtbot):
    """A peer that accepts TCP and never answers: the answer comes at the 2 s timeout and the
    UI thread runs all along."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        fill(dialog, "silent", "127.0.0.1", port, "X", timeout=2)
        started = time.monotonic()
        ticks = _echo(dialog, qtbot, 15000)
    assert 1.5 < time.monotonic() - started < 10
    assert len(ticks) > 10  # the event loop ran while C-ECHO waited
    text = dialog.status.text()
    assert f"PACS silent (X@127.0.0.1:{port})" in text and "2 秒以内に応答がありません" in text


def test_in_english(registry, qtbot, tmp_path):
    from jradi_desktop.ui.i18n import set_language

    set_language("en")
    try:
        panel = PacsPanel(registry, StudyCache(tmp_path / "cache"))
        dialog = PacsEntriesDialog(registry)
        qtbot.addWidget(panel)
        qtbot.addWidget(dialog)
        assert panel.settings_button.text() == "PACS settings…"
        assert 'Add one with "PACS settings…"' in panel.status.text()
        assert dialog.windowTitle() == "PACS settings"
        assert dialog.echo_button.text() == "Test connection"
        dialog.save_button.click()
        assert dialog.status.text() == "the PACS name is empty."
    finally:
        set_language("ja")  # the translator is global: later tests expect Japanese


def test_c_move_with_its_port_is_stored_and_shown(dialog, registry, qtbot):
    """取得方法 C-MOVE stores the receiving port (move_port); C-GET stores none."""
    fill(dialog, "移動PACS", "10.0.0.7", 104, "MOVE_AET")
    assert dialog.method.currentIndex() == 0 and not dialog.move_port.isEnabled()
    dialog.method.setCurrentIndex(1)
    assert dialog.move_port.isEnabled()
    dialog.move_port.setValue(11113)
    assert dialog.save()
    assert stored(registry)["移動PACS"].move_port == 11113

    dialog.new_entry()
    assert dialog.method.currentIndex() == 0 and not dialog.move_port.isEnabled()
    select(dialog, "移動PACS")
    assert (dialog.method.currentIndex(), dialog.move_port.value()) == (1, 11113)
    dialog.method.setCurrentIndex(0)
    assert dialog.save()
    assert stored(registry)["移動PACS"].move_port is None


# --- the cache's limit -----------------------------------------------------------------------

GIB = 1024**3


def cached_study(cache: StudyCache, uid: str, size: int, used: float) -> None:
    """A whole study in the cache's on-disk layout: its (sparse) file and study.json, last
    used at ``used``."""
    folder = cache.folder / uid
    folder.mkdir(parents=True)
    with open(folder / f"{uid}.9.dcm", "wb") as image:
        image.truncate(size)
    record = folder / "study.json"
    record.write_text('{"pacs": "院内PACS", "failed": 0}', encoding="utf-8")
    os.utime(record, (used, used))


def test_the_cache_limit_evicts_the_least_recently_used_at_once(registry, qtbot, tmp_path):
    cache = StudyCache(tmp_path / "cache")
    for age, uid in enumerate(("1.2.3", "1.2.4", "1.2.5")):  # 1.2.3 used most recently
        cached_study(cache, uid, GIB // 10, time.time() - 100 * age)
    dialog = PacsEntriesDialog(registry, cache=cache)
    qtbot.addWidget(dialog)
    box = dialog.cache_box
    assert box.limit.value() == 2.0 and box.usage.text() == "使用中：307 MiB（3 検査）"

    with qtbot.waitSignal(box.limitChanged) as changed:
        box.limit.setValue(0.25)
        box.limit.editingFinished.emit()
    assert changed.args == [int(0.25 * GIB)] and cache.limit_bytes == int(0.25 * GIB)
    assert sorted(p.name for p in cache.folder.iterdir()) == ["1.2.3", "1.2.4"]
    assert box.usage.text() == "使用中：205 MiB（2 検査）"

    box.limit.setValue(0.15)  # typed, not confirmed: closing the dialog applies it
    with qtbot.waitSignal(box.limitChanged):
        dialog.close_button.click()
    assert [p.name for p in cache.folder.iterdir()] == ["1.2.3"]


def test_the_window_remembers_the_cache_limit(registry, qtbot, tmp_path):
    from main_window_factory import make_window

    window = make_window(tmp_path)
    qtbot.addWidget(window)
    assert window.pacs_cache.limit_bytes == 2 * GIB  # the default
    window.pacs.cacheLimitChanged.emit(GIB // 2)
    window.close()
    again = make_window(tmp_path)
    qtbot.addWidget(again)
    assert again.pacs_cache.limit_bytes == GIB // 2
    again.settings.setValue("pacsCacheLimitGiB", "nonsense")  # a hand-edited settings file
    third = make_window(tmp_path)
    qtbot.addWidget(third)
    assert third.pacs_cache.limit_bytes == 2 * GIB
