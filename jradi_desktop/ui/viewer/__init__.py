"""The X-ray viewer: :class:`ImageViewer` (window/level, zoom, pan, overlay) and
:class:`ThumbnailStrip` (several opened images or frames)."""

from jradi_desktop.ui.viewer._overlay import OVERLAY_MODES, display_date, display_name
from jradi_desktop.ui.viewer._thumbnails import ThumbnailStrip
from jradi_desktop.ui.viewer._view import ImageViewer

__all__ = ["OVERLAY_MODES", "ImageViewer", "ThumbnailStrip", "display_date", "display_name"]
