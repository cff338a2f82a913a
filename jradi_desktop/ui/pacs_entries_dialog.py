"""「PACS の設定」: add, edit, remove and test the PACS entries without the command line.

The dialog edits the same ``pacs.json`` as ``jradi pacs add`` through :class:`PacsRegistry`
(locked read-modify-write), so the checks and messages are the registry's. 接続確認 sends a
C-ECHO for what the form holds, saved or not, as a :class:`PacsJob` off the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.errors import JRadiError
from jradi_desktop.pacs import (
    DEFAULT_MOVE_PORT,
    DEFAULT_OUR_AET,
    DEFAULT_TIMEOUT_S,
    PacsEntry,
    PacsEntryError,
    PacsRegistry,
    StudyCache,
    echo,
)
from jradi_desktop.ui.generation import error_text
from jradi_desktop.ui.i18n import current_language
from jradi_desktop.ui.pacs_cache_box import CacheLimitBox
from jradi_desktop.ui.pacs_job import PacsJob
from jradi_desktop.ui.widgets import column, row

DEFAULT_PORT = 104
ERROR_STYLE = "color: #b02a37"
OK_STYLE = "color: #0d652d"
BUSY_STYLE = "color: gray"


class PacsEntriesDialog(QDialog):
    entriesChanged = Signal()  # after a save or a delete

    def __init__(
        self,
        registry: PacsRegistry,
        parent: QWidget | None = None,
        cache: StudyCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        # The retrieved studies' size limit (with a cache; the window remembers the limit).
        self.cache_box = None if cache is None else CacheLimitBox(cache)
        self.selected: str | None = None  # the registered entry the form edits; None: a new one
        self.job: PacsJob | None = None  # the running 接続確認
        self.echo_entry: PacsEntry | None = None  # what it tests

        self.entry_list = QListWidget()
        self.new_button = QPushButton()
        self.delete_button = QPushButton()
        self.name = QLineEdit()
        self.host = QLineEdit()
        self.port = QSpinBox(minimum=1, maximum=65535)
        self.aet = QLineEdit(maxLength=64)  # longer than 16 on purpose: the registry says why
        self.our_aet = QLineEdit(maxLength=64)
        self.timeout = QDoubleSpinBox(minimum=0.5, maximum=3600, decimals=1)
        self.method = QComboBox()  # C-GET, or C-MOVE to our storage SCP on move_port
        self.move_port = QSpinBox(minimum=1, maximum=65535, value=DEFAULT_MOVE_PORT)
        self.method.currentIndexChanged.connect(lambda i: self.move_port.setEnabled(i == 1))
        self.tls_box = QGroupBox("DICOM TLS", checkable=True, checked=False)
        self.tls_ca, self.tls_cert, self.tls_key = QLineEdit(), QLineEdit(), QLineEdit()
        self.tls_edits = (self.tls_ca, self.tls_cert, self.tls_key)
        self.browse_buttons = [QPushButton() for _ in range(3)]
        self.tls_note = QLabel(wordWrap=True)
        self.echo_button = QPushButton()
        self.save_button = QPushButton(default=True)
        self.status = QLabel(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.close_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.RejectRole)

        self.labels = [QLabel() for _ in range(8)]
        form = QFormLayout()
        fields = (self.name, self.host, self.port, self.aet, self.our_aet, self.timeout,
                  self.method, self.move_port)  # fmt: skip
        for label, field in zip(self.labels, fields, strict=True):
            form.addRow(label, field)
        self.tls_labels = [QLabel() for _ in range(3)]
        tls_form = QFormLayout(self.tls_box)
        tls_form.addRow(self.tls_note)
        rows = zip(self.tls_labels, self.tls_edits, self.browse_buttons, strict=True)
        for label, edit, button in rows:
            tls_form.addRow(label, row(edit, button))
            button.clicked.connect(lambda _=False, e=edit: self._browse(e))
        self.list_title = QLabel()
        left = column(self.list_title, (self.entry_list, 1), row(self.new_button,
                      self.delete_button, None))  # fmt: skip
        if self.cache_box is not None:
            left.layout().addWidget(self.cache_box)
        right = column(form, self.tls_box, row(self.echo_button, None, self.save_button),
                       self.status, (QWidget(), 1))  # fmt: skip
        body = QHBoxLayout()
        body.addWidget(left, 2)
        body.addWidget(right, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.resize(820, 480)

        self.entry_list.currentItemChanged.connect(lambda *_: self._show_selected())
        self.new_button.clicked.connect(self.new_entry)
        self.save_button.clicked.connect(self.save)
        self.delete_button.clicked.connect(self._confirm_delete)
        self.echo_button.clicked.connect(self.test_connection)
        self.buttons.rejected.connect(self.reject)
        self.retranslate()
        self.new_entry()
        self.refresh()

    def done(self, result: int) -> None:
        if self.cache_box is not None:
            self.cache_box.apply()  # a limit typed but not yet confirmed with Enter
        super().done(result)

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("PACS の設定"))
        self.list_title.setText(self.tr("登録済みの PACS"))
        self.new_button.setText(self.tr("新規"))
        self.delete_button.setText(self.tr("削除"))
        self.save_button.setText(self.tr("保存"))
        self.echo_button.setText(self.tr("接続確認"))
        self.echo_button.setToolTip(self.tr("入力中の設定で C-ECHO を送ります（保存はしません）"))
        self.close_button.setText(self.tr("閉じる"))
        texts = [self.tr("名前"), self.tr("ホスト"), self.tr("ポート"),
                 self.tr("PACS の AE タイトル"), self.tr("自分の AE タイトル"),
                 self.tr("タイムアウト（秒）"), self.tr("取得方法"),
                 self.tr("C-MOVE の受信ポート")]  # fmt: skip
        for label, text in zip(self.labels, texts, strict=True):
            label.setText(text)
        index = self.method.currentIndex()
        self.method.clear()
        self.method.addItems([self.tr("C-GET（通常）"),
                              self.tr("C-MOVE（C-GET のない PACS）")])  # fmt: skip
        self.method.setCurrentIndex(max(index, 0))
        self.method.setToolTip(
            self.tr("C-MOVE では PACS が画像をこのコンピュータへ送り返します。PACS 側に、自分の "
                    "AE タイトル・このコンピュータのアドレス・受信ポートを移動先として登録して"
                    "もらう必要があります")
        )  # fmt: skip
        self.name.setPlaceholderText(self.tr("例：院内PACS"))
        self.host.setPlaceholderText(self.tr("IP アドレスまたはホスト名"))
        self.our_aet.setToolTip(
            self.tr("PACS 側で、この AE タイトルに C-ECHO・C-FIND・C-GET（または C-MOVE）・"
                    "C-STORE を許可してもらう必要があります")
        )  # fmt: skip
        self.tls_note.setText(
            self.tr("PACS が DICOM TLS で接続を受け付ける場合にだけ使います。クライアント証明書"
                    "と秘密鍵は、PACS が求める場合に指定します。")
        )  # fmt: skip
        tls_texts = [self.tr("CA ファイル"), self.tr("クライアント証明書"), self.tr("秘密鍵")]
        for label, text in zip(self.tls_labels, tls_texts, strict=True):
            label.setText(text)
        for button in self.browse_buttons:
            button.setText(self.tr("参照…"))

    def _say(self, text: str, style: str = BUSY_STYLE) -> None:
        self.status.setStyleSheet(style)
        self.status.setText(text)

    def _error(self, exc: BaseException) -> None:
        self._say(error_text(exc, current_language()), ERROR_STYLE)

    # -- list -------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """Re-read the registry into the list and select ``select`` (the form is left alone)."""
        self.entry_list.blockSignals(True)
        self.entry_list.clear()
        try:
            entries = [self.registry.get(name) for name in self.registry.names()]
        except JRadiError as exc:
            entries = []
            self._error(exc)
        for entry in entries:
            item = QListWidgetItem(entry.address)
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            self.entry_list.addItem(item)
            if entry.name == select:
                self.entry_list.setCurrentItem(item)
        self.entry_list.blockSignals(False)
        self.selected = select if self.entry_list.currentItem() else None
        self.delete_button.setEnabled(self.selected is not None)

    def _show_selected(self) -> None:
        item = self.entry_list.currentItem()
        if item is None:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        try:
            entry = self.registry.get(name)
        except JRadiError as exc:  # removed or broken by another program meanwhile
            self._error(exc)
            self.refresh()
            return
        self.selected = name
        self.delete_button.setEnabled(True)
        self._fill(entry)
        self._say("")

    # -- form -------------------------------------------------------------------------------
    def _fill(self, entry: PacsEntry | None) -> None:
        """Show ``entry`` in the form, or the defaults of a new entry."""
        self.name.setText(entry.name if entry else "")
        self.host.setText(entry.host if entry else "")
        self.port.setValue(entry.port if entry else DEFAULT_PORT)
        self.aet.setText(entry.aet if entry else "")
        self.our_aet.setText(entry.our_aet if entry else DEFAULT_OUR_AET)
        self.timeout.setValue(entry.timeout if entry else DEFAULT_TIMEOUT_S)
        move_port = entry.move_port if entry else None
        self.method.setCurrentIndex(0 if move_port is None else 1)
        self.move_port.setValue(move_port or DEFAULT_MOVE_PORT)
        self.move_port.setEnabled(move_port is not None)
        tls = (entry.tls_ca, entry.tls_cert, entry.tls_key) if entry else (None, None, None)
        for edit, value in zip(self.tls_edits, tls, strict=True):
            edit.setText(value or "")
        self.tls_box.setChecked(any(tls))

    def form_entry(self) -> PacsEntry:
        """The form as an entry; raises :class:`PacsEntryError` naming the first problem."""
        use_tls = self.tls_box.isChecked()
        tls = [(e.text().strip() or None) if use_tls else None
               for e in self.tls_edits]  # fmt: skip
        entry = PacsEntry(
            self.name.text().strip(), self.host.text().strip(), self.port.value(),
            self.aet.text().strip(), self.our_aet.text().strip(), *tls,
            timeout=self.timeout.value(),
            move_port=self.move_port.value() if self.method.currentIndex() == 1 else None,
        )  # fmt: skip
        if use_tls and not entry.uses_tls:  # else it would silently connect without TLS
            raise PacsEntryError(
                f"PACS {entry.name!r}: DICOM TLS には PACS の証明書を確かめる CA ファイルが"
                "必要です（TLS を使わない場合はチェックを外してください）。",
                f"PACS {entry.name!r}: DICOM TLS needs the CA file that signs the PACS's "
                "certificate (untick DICOM TLS to connect without it).",
            )
        return entry

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("ファイルを選択"), edit.text(),
            self.tr("証明書・鍵 (*.pem *.crt *.cer *.key);;すべてのファイル (*)"),
        )  # fmt: skip
        if path:
            edit.setText(path)

    # -- actions ----------------------------------------------------------------------------
    def new_entry(self) -> None:
        """An empty form with the defaults, saved as a new entry."""
        self.entry_list.blockSignals(True)
        self.entry_list.setCurrentRow(-1)
        self.entry_list.clearSelection()
        self.entry_list.blockSignals(False)
        self.selected = None
        self.delete_button.setEnabled(False)
        self._fill(None)
        self._say("")
        self.name.setFocus()

    def save(self) -> bool:
        """Store the form: the selected entry under its own name is replaced, a renamed one is
        added under the new name and the old one removed, a new one never replaces another.
        Problems are shown in the status line and the form keeps what was typed."""
        try:
            entry = self.form_entry()
            own_name = entry.name == self.selected
            self.registry.add(entry, replace=own_name)
            if self.selected is not None and not own_name:
                self.registry.remove(self.selected)
        except JRadiError as exc:
            self._error(exc)
            return False
        self.refresh(entry.name)
        self._fill(entry)  # as stored (trimmed)
        self._say(self.tr("PACS「%1」を保存しました。").replace("%1", entry.name), OK_STYLE)
        self.entriesChanged.emit()
        return True

    def _confirm_delete(self) -> None:
        name = self.selected
        if name is None:
            return
        answer = QMessageBox.question(
            self, self.tr("削除"),
            self.tr("PACS「%1」の登録を削除しますか？取得済みの検査のキャッシュは残ります。")
            .replace("%1", name),
        )  # fmt: skip
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(name)

    def delete(self, name: str) -> bool:
        try:
            self.registry.remove(name)
        except JRadiError as exc:
            self._error(exc)
            self.refresh(self.selected)
            return False
        self.new_entry()
        self.refresh()
        self._say(self.tr("PACS「%1」を削除しました。").replace("%1", name), OK_STYLE)
        self.entriesChanged.emit()
        return True

    def test_connection(self) -> None:
        """C-ECHO the form's values (not saved) off the UI thread; the answer goes to status."""
        if self.job is not None:
            return
        try:
            entry = self.form_entry()
        except JRadiError as exc:
            self._error(exc)
            return
        # Owned by the application, not the dialog: the dialog may close (and be deleted)
        # before the PACS answers, and the job must outlive its thread's last signal.
        job = PacsJob("echo", lambda _progress, _stop: echo(entry), QCoreApplication.instance())
        job.finished.connect(self._echo_answered)  # methods, not lambdas: Qt disconnects
        job.failed.connect(self._echo_failed)  # them if the dialog is gone by then
        job.finished.connect(job.deleteLater)
        job.failed.connect(job.deleteLater)
        self.job, self.echo_entry = job, entry
        self.echo_button.setEnabled(False)
        self._say(self.tr("接続を確認しています…（%1）").replace("%1", entry.address))
        job.start()

    def _echo_answered(self, _result: object) -> None:
        self._echo_ended()
        address = self.echo_entry.address if self.echo_entry else ""
        self._say(self.tr("接続できました（%1）").replace("%1", address), OK_STYLE)

    def _echo_failed(self, exc: BaseException) -> None:
        self._echo_ended()
        self._error(exc)

    def _echo_ended(self) -> None:
        self.job = None
        self.echo_button.setEnabled(True)
