"""The PACS cache's size limit and what it holds, for 「PACS の設定」.

A lower limit takes effect at once: the least recently used studies are evicted as after a
retrieve. The window remembers the limit in its settings.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QWidget

from jradi_desktop.pacs import StudyCache

GIB = 1024**3
MIB = 1024**2
MIN_LIMIT_GIB = 0.1
MAX_LIMIT_GIB = 1024.0


def limit_bytes(gib: float) -> int:
    return int(min(max(gib, MIN_LIMIT_GIB), MAX_LIMIT_GIB) * GIB)


class CacheLimitBox(QGroupBox):
    limitChanged = Signal(int)  # bytes, after the cache was fitted to it

    def __init__(self, cache: StudyCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.limit = QDoubleSpinBox(minimum=MIN_LIMIT_GIB, maximum=MAX_LIMIT_GIB, decimals=2)
        self.limit.setSingleStep(0.5)
        self.limit.setValue(cache.limit_bytes / GIB)
        self.usage = QLabel(wordWrap=True)
        self.limit_label = QLabel()
        form = QFormLayout(self)
        form.addRow(self.limit_label, self.limit)
        form.addRow(self.usage)
        self.limit.editingFinished.connect(self.apply)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("取得した検査のキャッシュ"))
        self.limit_label.setText(self.tr("上限（GiB）"))
        self.limit.setToolTip(
            self.tr("上限を超えると、最後に開いたのが古い検査から削除します（PACS 上の検査は"
                    "そのまま）")
        )  # fmt: skip
        self.show_usage()

    def show_usage(self) -> None:
        studies, size = self.cache.usage()
        shown = f"{size / GIB:.2f} GiB" if size >= GIB else f"{size / MIB:.0f} MiB"
        self.usage.setText(
            self.tr("使用中：%1（%2 検査）").replace("%1", shown).replace("%2", str(studies))
        )

    def apply(self) -> None:
        """Fit the cache to the limit shown (a no-op when it did not change)."""
        wanted = limit_bytes(self.limit.value())
        if wanted == self.cache.limit_bytes:
            return
        self.cache.limit_bytes = wanted
        self.cache.evict()
        self.show_usage()
        self.limitChanged.emit(wanted)
