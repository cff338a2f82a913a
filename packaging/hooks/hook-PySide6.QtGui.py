"""PyInstaller hook override for PySide6.QtGui: PyInstaller's own, minus the Qt plugins this
app never loads, dropped before PyInstaller collects their dependencies (the GTK theme
plugin alone would bring the build machine's GTK, cairo and pango).

Kept: platforms offscreen / minimal / xcb / wayland (+ the wayland-* client plugins), image
formats but PDF, the SVG icon engine, compose and IBus input contexts (Japanese input
methods), the XDG desktop portal theme, the xcb GL integrations.
"""

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

DROP = (
    "/platforms/libqeglfs",
    "/platforms/libqlinuxfb",
    "/platforms/libqminimalegl",
    "/platforms/libqvkkhrdisplay",
    "/platforms/libqvnc",
    "/egldeviceintegrations/",
    "/platformthemes/libqgtk3",
    "/platforminputcontexts/libqtvirtualkeyboard",
    "/imageformats/libqpdf",
    "/generic/",
)

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [
    entry for entry in binaries if not any(part in entry[0].replace("\\", "/") for part in DROP)
]
