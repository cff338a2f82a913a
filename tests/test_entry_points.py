import pytest

from engine.cli import main as engine_main


@pytest.mark.parametrize("command", ["evolve", "lora", "eval-qa", "score-qa"])
def test_engine_commands_not_built_yet_say_so(command, capsys):
    assert engine_main([command]) == 2
    assert "not available yet" in capsys.readouterr().err


@pytest.mark.gui
def test_main_window_opens(qtbot):
    from jradi_desktop.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == "JRadi Desktop"
