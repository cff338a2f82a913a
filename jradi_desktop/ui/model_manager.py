"""The model manager: the registered models, adding a GGUF (+ mmproj) or a Hugging Face folder
with its checks and memory estimate, settings per model, the default model.

Checks read only headers (``check_model``: GGUF metadata, ``config.json``), so adding even an
8B model takes a moment; each model is checked once per dialog and the estimate for another
context length is computed from that check.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.models import (
    TEMPLATES,
    ModelCheck,
    ModelCheckError,
    ModelRegistry,
    ModelSpec,
    check_model,
    default_model_name,
    find_mmproj,
)
from jradi_desktop.ui.widgets import row

NAME, KIND, DEFAULT, PATH = range(4)
ERROR_STYLE = "color: #b3261e"
OK_STYLE = "color: #0d652d"


class ModelManagerDialog(QDialog):
    defaultChanged = Signal(object)  # ModelSpec | None: the model the app should load
    modelEdited = Signal(object)  # ModelSpec whose settings changed (reload it if loaded)

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.language = "ja"
        self._checks: dict[str, ModelCheck | ModelCheckError] = {}

        self.table = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        self.table.setColumnCount(4)
        self.add_gguf_button = QPushButton()
        self.add_hf_button = QPushButton()
        self.default_button = QPushButton()
        self.remove_button = QPushButton()
        self.message = QLabel(wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel(wordWrap=True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gpu_layers = QSpinBox(minimum=-1, maximum=999)
        self.context = QSpinBox(minimum=512, maximum=262144, singleStep=512)
        self.threads = QSpinBox(minimum=0, maximum=512)
        self.template = QComboBox()
        self.template.addItems(TEMPLATES)
        for field in (self.gpu_layers, self.context, self.threads, self.template):
            field.setMinimumWidth(160)
        self.settings_box = QGroupBox()
        self.form = QFormLayout()
        self.form_labels = [QLabel() for _ in range(4)]
        fields = (self.gpu_layers, self.context, self.threads, self.template)
        for label, field in zip(self.form_labels, fields, strict=True):
            self.form.addRow(label, field)
        self.settings_form = QWidget()
        self.settings_form.setLayout(self.form)
        self.form.setContentsMargins(0, 0, 0, 0)
        box = QVBoxLayout(self.settings_box)
        box.addWidget(self.details)
        box.addWidget(self.settings_form)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.buttons = QDialogButtonBox()
        self.close_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.RejectRole)

        buttons = row(self.add_gguf_button, self.add_hf_button, None, self.default_button,
                      self.remove_button)  # fmt: skip
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.buttons)
        self.resize(760, 560)

        self.table.currentItemChanged.connect(lambda *_: self._show_selected())
        self.add_gguf_button.clicked.connect(self.choose_gguf)
        self.add_hf_button.clicked.connect(self.choose_hf)
        self.default_button.clicked.connect(lambda: self.make_default())
        self.remove_button.clicked.connect(self._confirm_remove)
        self.buttons.rejected.connect(self.reject)
        for spin in (self.gpu_layers, self.context, self.threads):
            spin.valueChanged.connect(self._settings_changed)
        self.template.currentIndexChanged.connect(self._settings_changed)
        self.retranslate()
        self.refresh(registry.default)

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("モデル管理"))
        self.close_button.setText(self.tr("閉じる"))
        self.table.setHeaderLabels(
            [self.tr("名前"), self.tr("種類"), self.tr("既定"), self.tr("ファイル")]
        )
        self.add_gguf_button.setText(self.tr("GGUF を追加…"))
        self.add_hf_button.setText(self.tr("HF フォルダーを追加…"))
        self.default_button.setText(self.tr("既定にする"))
        self.remove_button.setText(self.tr("削除"))
        self.settings_box.setTitle(self.tr("選択したモデル"))
        self.gpu_layers.setSpecialValueText(self.tr("すべて"))
        self.gpu_layers.setToolTip(self.tr("GPU に載せる層の数（0 = CPU のみ）。GGUF のみ。"))
        self.threads.setSpecialValueText(self.tr("自動"))
        labels = [self.tr("GPU 層数"), self.tr("コンテキスト長"), self.tr("スレッド数")]
        for widget, label in zip(self.form_labels, [*labels, self.tr("テンプレート")], strict=True):
            widget.setText(label)
        self.template.setItemText(0, self.tr("自動（モデル内蔵）"))
        self.refresh(self.selected_name())

    # -- list -------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        self.table.blockSignals(True)
        self.table.clear()
        for name in self.registry.names():
            spec = self.registry.get(name)
            is_default = name == self.registry.default
            paths = str(spec.path) + (f"\n+ {spec.mmproj}" if spec.mmproj else "")
            item = QTreeWidgetItem(
                [name, spec.kind.upper(), "★ " + self.tr("既定") if is_default else "", paths]
            )
            item.setData(NAME, Qt.ItemDataRole.UserRole, name)
            item.setToolTip(PATH, paths)
            if is_default:
                font = QFont(item.font(NAME))
                font.setBold(True)
                item.setFont(NAME, font)
            self.table.addTopLevelItem(item)
            if name == select:
                self.table.setCurrentItem(item)
        if self.table.currentItem() is None and self.table.topLevelItemCount():
            self.table.setCurrentItem(self.table.topLevelItem(0))
        for column, width in ((NAME, 180), (KIND, 60), (DEFAULT, 70)):
            self.table.resizeColumnToContents(column)
            self.table.setColumnWidth(column, max(width, self.table.columnWidth(column)))
        self.table.blockSignals(False)
        self._show_selected()

    def selected_name(self) -> str | None:
        item = self.table.currentItem()
        return item.data(NAME, Qt.ItemDataRole.UserRole) if item else None

    def select(self, name: str) -> None:
        self.refresh(name)

    # -- adding -----------------------------------------------------------------------------
    def add_model(
        self, path: str | Path, mmproj: str | Path | None = None, name: str | None = None
    ) -> ModelSpec | None:
        """Check and register a GGUF file (with its mmproj: given, or ``mmproj*.gguf`` found
        beside it, as ``jradi models add`` does) or a Hugging Face folder. Problems are shown in
        the dialog; returns the new spec, or None when it was not added.

        The user picks files, not names, so a name already taken gets a number ("vlm (2)")
        instead of replacing the registered model; if another program registers the same name
        in the meantime, the registry's refusal is shown and nothing is replaced.
        """
        path = Path(path)
        kind = "hf" if path.is_dir() else "gguf"
        projector = Path(mmproj) if mmproj else None
        if kind == "gguf" and projector is None and path.is_file():
            projector = find_mmproj(path)
        base = name or default_model_name(path)
        unique, number = base, 2
        while unique in self.registry.names():
            unique, number = f"{base} ({number})", number + 1
        spec = ModelSpec(unique, kind, path, projector)
        had_default = self.registry.default
        try:
            check = self.registry.add(spec)
        except ModelCheckError as exc:
            self._say(self.tr("追加できませんでした：") + "\n" + exc.message(self.language), True)
            return None
        self._checks[spec.name] = check
        self.refresh(spec.name)
        self._say(
            self.tr("「{0}」を追加しました。必要メモリの目安：{1}").format(
                spec.name, check.memory_text(spec.context)
            )
        )
        if self.registry.default != had_default:
            self.defaultChanged.emit(self.registry.get(self.registry.default))
        return spec

    def choose_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("モデル（model.gguf）を選択"), "", self.tr("GGUF モデル (*.gguf)")
        )
        if not path:
            return
        mmproj = None
        if find_mmproj(path) is None:
            mmproj, _ = QFileDialog.getOpenFileName(
                self,
                self.tr("画像エンコーダー（mmproj.gguf）を選択（レポート作成に必要・任意）"),
                str(Path(path).parent),
                self.tr("GGUF モデル (*.gguf)"),
            )
        self.add_model(path, mmproj or None)

    def choose_hf(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Hugging Face 形式のモデルフォルダーを選択")
        )
        if folder:
            self.add_model(folder)

    # -- default / remove -------------------------------------------------------------------
    def make_default(self, name: str | None = None) -> None:
        name = name or self.selected_name()
        if name is None:
            return
        try:
            self.registry.set_default(name)
        except ModelCheckError as exc:  # removed by another program meanwhile
            self._gone(exc)
            return
        self.refresh(name)
        self._say(self.tr("「{0}」を既定のモデルにしました。").format(name))
        self.defaultChanged.emit(self.registry.get(name))

    def remove_model(self, name: str | None = None) -> None:
        """Unregister a model (its files stay where they are)."""
        name = name or self.selected_name()
        if name is None:
            return
        old_default = self.registry.default
        try:
            self.registry.remove(name)
        except ModelCheckError as exc:
            self._gone(exc)
            return
        self._checks.pop(name, None)
        self.refresh(self.registry.default)
        self._say(self.tr("「{0}」を一覧から削除しました（ファイルは残っています）。").format(name))
        if self.registry.default != old_default:
            default = self.registry.default
            self.defaultChanged.emit(self.registry.get(default) if default else None)

    def _confirm_remove(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        answer = QMessageBox.question(
            self,
            self.tr("削除"),
            self.tr("「{0}」を一覧から削除しますか？ファイルは削除されません。").format(name),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_model(name)

    # -- details and settings ---------------------------------------------------------------
    def check(self, name: str) -> ModelCheck | ModelCheckError:
        """The model's check (cached): what it is and its memory estimate, or why it fails."""
        if name not in self._checks:
            try:
                self._checks[name] = check_model(self.registry.get(name))
            except ModelCheckError as exc:
                self._checks[name] = exc
        return self._checks[name]

    def _show_selected(self) -> None:
        name = self.selected_name()
        self.settings_form.setVisible(name is not None)
        self.default_button.setEnabled(name is not None and name != self.registry.default)
        self.remove_button.setEnabled(name is not None)
        if name is None:
            self.details.setText(
                self.tr("モデルが登録されていません。「GGUF を追加…」から追加してください。")
            )
            return
        spec = self.registry.get(name)
        widgets = (self.gpu_layers, self.context, self.threads, self.template)
        for widget in widgets:
            widget.blockSignals(True)
        self.gpu_layers.setValue(spec.n_gpu_layers)
        self.context.setValue(spec.context)
        self.threads.setValue(spec.threads or 0)
        known = spec.template in TEMPLATES
        self.template.setCurrentIndex(TEMPLATES.index(spec.template) if known else 0)
        for widget in widgets:
            widget.blockSignals(False)
        for widget in (self.gpu_layers, self.threads):
            widget.setEnabled(spec.kind == "gguf")
        self._show_details(spec)

    def _show_details(self, spec: ModelSpec) -> None:
        check = self.check(spec.name)
        if isinstance(check, ModelCheckError):
            self.details.setText(
                f"<b style='{ERROR_STYLE}'>{html.escape(self.tr('このモデルは使えません：'))}</b>"
                f"<br>{html.escape(check.message(self.language)).replace(chr(10), '<br>')}"
            )
            return
        vision = (
            self.tr("あり（レポート作成可）") if spec.has_vision else self.tr("なし（医療QAのみ）")
        )
        rows = [
            (self.tr("アーキテクチャ"), f"{check.architecture}（{check.layers} 層）"),
            (self.tr("画像エンコーダー"), vision),
            (
                self.tr("必要メモリの目安"),
                check.memory_text(spec.context)
                + self.tr("（コンテキスト長 {0:,} トークン）").format(spec.context),
            ),
        ]
        text = "<br>".join(f"<b>{html.escape(k)}：</b>{html.escape(v)}" for k, v in rows)
        for warning in check.warnings:
            text += f"<br><span style='color:#a15c00'>⚠ {html.escape(warning)}</span>"
        self.details.setText(text)

    def _settings_changed(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        try:  # only these settings of this entry change; the rest of the registry is re-read
            spec = self.registry.update(
                name,
                n_gpu_layers=self.gpu_layers.value(),
                context=self.context.value(),
                threads=self.threads.value() or None,
                template=TEMPLATES[self.template.currentIndex()],
            )
        except ModelCheckError as exc:
            self._gone(exc)
            return
        self._show_details(spec)
        self.modelEdited.emit(spec)

    def _gone(self, exc: ModelCheckError) -> None:
        """A change to a model another program removed (or a registry it broke): say so."""
        self.refresh(self.registry.default)
        self._say(exc.message(self.language), True)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else OK_STYLE)
        self.message.setText(text)
