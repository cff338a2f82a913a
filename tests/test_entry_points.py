import pytest

from engine.cli import main as engine_main


def test_engine_lists_its_commands(capsys):
    with pytest.raises(SystemExit):
        engine_main(["--help"])
    out = capsys.readouterr().out
    for command in (
        "demo-models",
        "export-gguf",
        "merge",
        "evolve",
        "lora",
        "eval-qa",
        "score-qa",
        "eval-report",
    ):
        assert command in out


@pytest.mark.gui
def test_main_window_opens(qtbot):
    from jradi_desktop.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == "JRadi Desktop"
