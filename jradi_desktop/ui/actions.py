"""Menus, toolbar and shortcuts of the main window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from jradi_desktop.imaging import PRESET_NAMES
from jradi_desktop.ui.i18n import LANGUAGES

if TYPE_CHECKING:
    from jradi_desktop.ui.main_window import MainWindow


def build_menus(window: MainWindow) -> dict[str, QAction]:
    """Create every action once; ``window.retranslate_actions`` re-labels them."""
    viewer = window.viewer
    actions: dict[str, QAction] = {}

    def add(name: str, slot: object, shortcut: str | QKeySequence | None = None) -> QAction:
        action = QAction(window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        actions[name] = action
        return action

    add("open", window.open_dialog, QKeySequence.StandardKey.Open)
    add("quit", window.close, QKeySequence.StandardKey.Quit)
    add("fit", viewer.fit_to_window, "F")
    add("actual", viewer.actual_size, "1")
    add("invert", viewer.toggle_invert, "I")
    add("reset", viewer.reset, "R")
    for name in PRESET_NAMES:
        add(f"preset:{name}", lambda _=False, n=name: viewer.apply_preset(n))
    overlay_group = QActionGroup(window)
    for mode in ("full", "anonymised", "hidden"):
        action = add(f"overlay:{mode}", lambda _=False, m=mode: viewer.set_overlay_mode(m))
        action.setCheckable(True)
        action.setChecked(mode == "full")
        overlay_group.addAction(action)
    add("models", window.model_manager)
    add("demo_model", window.install_demo_model)
    read_ahead = add("read_ahead", window.set_read_ahead)
    read_ahead.setCheckable(True)
    read_ahead.setChecked(window.controller.read_ahead_enabled)
    language_group = QActionGroup(window)
    for code in LANGUAGES:
        action = add(f"language:{code}", lambda _=False, c=code: window.set_language(c))
        action.setCheckable(True)
        action.setChecked(code == "ja")
        language_group.addAction(action)

    bar = window.menuBar()
    window.file_menu = QMenu(window)
    window.recent_menu = QMenu(window)
    window.file_menu.addAction(actions["open"])
    window.file_menu.addMenu(window.recent_menu)
    window.file_menu.addSeparator()
    window.file_menu.addAction(actions["quit"])
    window.recent_menu.aboutToShow.connect(window.fill_recent_menu)
    window.view_menu = QMenu(window)
    for name in ("fit", "actual", "invert", "reset"):
        window.view_menu.addAction(actions[name])
    window.preset_menu = window.view_menu.addMenu("")
    for name in PRESET_NAMES:
        window.preset_menu.addAction(actions[f"preset:{name}"])
    window.overlay_menu = window.view_menu.addMenu("")
    for mode in ("full", "anonymised", "hidden"):
        window.overlay_menu.addAction(actions[f"overlay:{mode}"])
    window.model_menu = QMenu(window)
    window.model_menu.addAction(actions["models"])
    window.model_menu.addAction(actions["demo_model"])
    window.model_menu.addSeparator()
    window.model_menu.addAction(actions["read_ahead"])
    window.language_menu = QMenu(window)
    for code in LANGUAGES:
        window.language_menu.addAction(actions[f"language:{code}"])
    for menu in (window.file_menu, window.view_menu, window.model_menu, window.language_menu):
        bar.addMenu(menu)

    toolbar = QToolBar(window)
    toolbar.setObjectName("mainToolbar")
    for name in ("open", "fit", "actual", "invert", "reset"):
        toolbar.addAction(actions[name])
    window.addToolBar(toolbar)
    window.toolbar = toolbar
    return actions


def retranslate_actions(window: MainWindow) -> None:
    # QCoreApplication.translate with the literal context: lupdate reads exactly this form.
    a = window.actions_by_name
    labels = {
        "open": QCoreApplication.translate("MainWindow", "開く…"),
        "quit": QCoreApplication.translate("MainWindow", "終了"),
        "fit": QCoreApplication.translate("MainWindow", "全体表示"),
        "actual": QCoreApplication.translate("MainWindow", "等倍 (1:1)"),
        "invert": QCoreApplication.translate("MainWindow", "白黒反転"),
        "reset": QCoreApplication.translate("MainWindow", "リセット"),
        "overlay:full": QCoreApplication.translate("MainWindow", "患者情報を表示"),
        "overlay:anonymised": QCoreApplication.translate("MainWindow", "患者情報を匿名化"),
        "overlay:hidden": QCoreApplication.translate("MainWindow", "情報表示を隠す"),
        "models": QCoreApplication.translate("MainWindow", "モデルの管理…"),
        "demo_model": QCoreApplication.translate(
            "MainWindow", "デモモデルをインストール（臨床使用不可）"
        ),
        "read_ahead": QCoreApplication.translate(
            "MainWindow", "画像を開いたらレポートの準備を始める（先読み）"
        ),
        "preset:header": QCoreApplication.translate("MainWindow", "ヘッダー値"),
        "preset:auto": QCoreApplication.translate("MainWindow", "自動"),
        "preset:lung": QCoreApplication.translate("MainWindow", "肺野"),
        "preset:mediastinum": QCoreApplication.translate("MainWindow", "縦隔"),
        "preset:bone": QCoreApplication.translate("MainWindow", "骨"),
    }
    for name, text in labels.items():
        if name in a:
            a[name].setText(text)
    for code, label in LANGUAGES.items():
        a[f"language:{code}"].setText(label)
    window.file_menu.setTitle(QCoreApplication.translate("MainWindow", "ファイル"))
    window.recent_menu.setTitle(QCoreApplication.translate("MainWindow", "最近使ったファイル"))
    window.view_menu.setTitle(QCoreApplication.translate("MainWindow", "表示"))
    window.preset_menu.setTitle(QCoreApplication.translate("MainWindow", "ウィンドウ プリセット"))
    window.overlay_menu.setTitle(QCoreApplication.translate("MainWindow", "画像上の情報"))
    window.model_menu.setTitle(QCoreApplication.translate("MainWindow", "モデル"))
    window.language_menu.setTitle(QCoreApplication.translate("MainWindow", "言語 / Language"))
