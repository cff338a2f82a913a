"""Small widget helpers shared by the panels."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QVBoxLayout, QWidget

# background, text, border of a note above a panel's content
NOTE_COLOURS = {
    "caution": ("#fff3cd", "#664d03", "#ffecb5"),  # an AI draft, a disclaimer
    "danger": ("#f8d7da", "#58151c", "#f1aeb5"),  # an image the model may not read
}


def column(*items: QWidget | QLayout | tuple[QWidget, int]) -> QWidget:
    """A widget holding ``items`` top to bottom, without margins; (widget, stretch) pairs."""
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    for item in items:
        if isinstance(item, QLayout):
            layout.addLayout(item)
        elif isinstance(item, tuple):
            layout.addWidget(*item)
        else:
            layout.addWidget(item)
    return widget


def row(*widgets: QWidget | None) -> QHBoxLayout:
    """A layout holding ``widgets`` left to right; ``None`` is a stretch."""
    layout = QHBoxLayout()
    for widget in widgets:
        if widget is None:
            layout.addStretch(1)
        else:
            layout.addWidget(widget)
    return layout


def note_label(name: str, kind: str = "caution", bold: bool = False) -> QLabel:
    """A word-wrapped coloured note (``kind``: a key of :data:`NOTE_COLOURS`)."""
    background, text, border = NOTE_COLOURS[kind]
    label = QLabel(wordWrap=True, objectName=name)
    weight = " font-weight: bold;" if bold else ""
    label.setStyleSheet(
        f"QLabel#{name} {{ background: {background}; color: {text}; padding: 6px;"
        f" border: 1px solid {border}; border-radius: 4px;{weight} }}"
    )
    return label
