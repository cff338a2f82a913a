"""One report's lifecycle in the window (offscreen, the trained demo model): what the model was
asked is what is stored, drafted and exported, whatever is typed while it writes."""

from pathlib import Path

import pydicom.data
import pytest
from main_window_factory import make_window

from jradi_desktop.imaging import open_image
from jradi_desktop.models import ModelSpec
from jradi_desktop.ui.main_window import MainWindow
from jradi_desktop.ui.report_panel import DRAFT_KEY

pytestmark = pytest.mark.gui
CT = pydicom.data.get_testdata_file("CT_small.dcm")
SENT, TYPED_LATER = "発熱と咳嗽", "術前検査"


@pytest.fixture
def window(qtbot, tmp_path: Path):
    win = make_window(tmp_path)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.mark.slow
def test_an_indication_edited_while_streaming_is_stored_as_sent(
    qtbot, window: MainWindow, trained_gguf, tmp_path: Path
):
    window.set_model(ModelSpec("demo", "gguf", trained_gguf["vlm"], trained_gguf["mmproj"]))
    window.show_image(open_image(CT))
    window.report.indication.setText(SENT)
    window.report.generate_button.click()
    job = window.session.job
    edited_while_busy = []

    def edit_once(_piece: str) -> None:
        if not edited_while_busy:  # the clinician types a new indication mid-stream
            edited_while_busy.append(window.controller.busy)
            window.report.indication.setText(TYPED_LATER)

    job.piece.connect(edit_once)
    with qtbot.waitSignal(job.finished, timeout=60000) as done:
        pass
    assert edited_while_busy == [True]
    assert done.args[0].result.indication == SENT
    qtbot.waitUntil(lambda: window.report.report_id is not None, timeout=5000)
    assert window.report.indication.text() == TYPED_LATER  # the box keeps the typing
    assert window.history.report(window.report.report_id).indication == SENT
    window.report.findings.setPlainText("右下肺野に浸潤影（医師修正）。")
    window.report.flush_draft()
    assert window.history.drafts()[DRAFT_KEY]["indication"] == SENT
    out = tmp_path / "report.md"
    window.session.export("md", out)
    exported = out.read_text(encoding="utf-8")
    assert SENT in exported and TYPED_LATER not in exported and "医師修正" in exported
