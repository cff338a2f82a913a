"""The evolution's settings: models, dev set with a preview, search, storage, workspace,
resources. Every field is checked as it changes; ``recipe()`` is the engine's YAML recipe."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.contract import (
    DEVICES,
    EVOLVE_BATCH_SIZE,
    EVOLVE_MAX_NEW_TOKENS,
    EVOLVE_N_TRIALS,
    EVOLVE_SAMPLER,
    SAMPLERS,
)
from jradi_desktop.ui.tuning._data import (
    DevPreview,
    model_folder_problem,
    read_dev_set,
    weights_info,
)
from jradi_desktop.ui.tuning._fields import (
    BoundsTable,
    Form,
    Message,
    PathField,
    boxes,
    model_ok_message,
    spin_box,
    stacked,
    workspace_access,
    workspace_problem,
)
from jradi_desktop.ui.tuning._preview import ImagePreview
from jradi_desktop.ui.tuning._resources import ResourceBox

STUDY_MARKERS = ("study.sqlite3", "evolve_recipe.yaml", "recipe.yaml")


def sampler_available(name: str) -> bool:
    return name != "cmaes" or importlib.util.find_spec("cmaes") is not None


class EvolveForm(QWidget):
    validityChanged = Signal(bool)

    def __init__(self, demo_models: Path | None, workspace: Path) -> None:
        super().__init__()
        self.valid = False
        self.dev: DevPreview = DevPreview()
        self.vlm = PathField("dir")
        self.base = PathField("dir")
        self.specialists: list[PathField] = []
        self.specialist_box = QVBoxLayout()
        self.specialist_box.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton()
        self.data = PathField("file", "CSV / JSONL (*.csv *.jsonl *.ndjson)")
        self.preview = ImagePreview()
        self.trials = spin_box(EVOLVE_N_TRIALS, 1_000_000)
        self.sampler = QComboBox()
        for key in SAMPLERS:
            self.sampler.addItem(key, key)  # named in retranslate()
        usable = EVOLVE_SAMPLER if sampler_available(EVOLVE_SAMPLER) else "tpe"
        self.sampler.setCurrentIndex(SAMPLERS.index(usable))
        self.sampler_message = Message()
        self.bounds = BoundsTable()
        self.max_new_tokens = spin_box(EVOLVE_MAX_NEW_TOKENS, 8192)
        self.batch_size = spin_box(EVOLVE_BATCH_SIZE, 1024)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.storage_kind = QComboBox()
        self.storage_kind.addItems(["", ""])
        self.storage_url = QLineEdit(placeholderText="postgresql://USER:PASSWORD@HOST:5432/DB")
        self.storage_message = Message()
        self.workspace = PathField("dir")
        self.workspace.set_path(workspace)
        self.resources = ResourceBox()

        self.models_box = QGroupBox()
        self.models_form = Form(self.models_box)
        self.models_form.row(self.vlm)
        self.models_form.row(self.base)
        specialist_column = QVBoxLayout()
        specialist_column.addLayout(self.specialist_box)
        specialist_column.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.models_form.row(specialist_column)

        self.data_box = QGroupBox()
        stacked(self.data, self.preview, into=self.data_box)

        self.search_box = QGroupBox()
        self.search_form = Form(self.search_box)
        for field in (self.trials, stacked(self.sampler, self.sampler_message), self.bounds,
                      self.max_new_tokens, self.batch_size, self.device):  # fmt: skip
            self.search_form.row(field)

        self.place_box = QGroupBox()
        self.place_form = Form(self.place_box)
        storage_row = QHBoxLayout()
        storage_row.addWidget(self.storage_kind)
        storage_row.addWidget(self.storage_url, 1)
        self.place_form.row(self.workspace)
        self.place_form.row(stacked(storage_row, self.storage_message))
        boxes(self, self.models_box, self.data_box, self.search_box, self.place_box,
              self.resources)  # fmt: skip

        self._timer = QTimer(self, singleShot=True, interval=120)
        self._timer.timeout.connect(self.validate)
        for field in (self.vlm, self.base, self.data, self.workspace):
            field.changed.connect(self._timer.start)
        for signal in (self.sampler.currentIndexChanged, self.storage_kind.currentIndexChanged,
                       self.storage_url.textChanged, self.bounds.changed,
                       self.trials.valueChanged):  # fmt: skip
            signal.connect(self._timer.start)
        self.add_button.clicked.connect(lambda: self.add_specialist())
        if demo_models is not None:
            self.vlm.set_path(demo_models / "vlm")
            self.base.set_path(demo_models / "base")
            for name in ("med-a", "med-b", "ja"):
                self.add_specialist(demo_models / name)
        self.retranslate()
        self.validate()

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.models_box.setTitle(self.tr("1. モデル"))
        self.models_form.set_labels("VLM", self.tr("ベース"), self.tr("専門モデル"))
        self.add_button.setText(self.tr("＋ 専門モデルを追加"))
        self.vlm.caption = self.tr("VLM（画像からレポートを書くモデル）のフォルダー")
        self.base.caption = self.tr("ベースモデルのフォルダー")
        self.data_box.setTitle(self.tr("2. 開発データ（画像とレポートの組）"))
        self.data.caption = self.tr("開発データ（CSV / JSONL）")
        self.search_box.setTitle(self.tr("3. 探索の設定"))
        names = {"cmaes": "CMA-ES", "tpe": "TPE", "gp": "GP", "random": self.tr("ランダム")}
        for index, key in enumerate(SAMPLERS):
            self.sampler.setItemText(index, names[key])
        self.search_form.set_labels(
            self.tr("試行回数"), self.tr("サンプラー"), self.tr("探索範囲"),
            self.tr("最大生成トークン数"), self.tr("バッチサイズ"), self.tr("デバイス"),
        )  # fmt: skip
        self.place_box.setTitle(self.tr("4. ワークスペースと保存先"))
        self.place_form.set_labels(self.tr("ワークスペース"), self.tr("試行の記録"))
        self.workspace.caption = self.tr("ワークスペースのフォルダー")
        self.storage_kind.setItemText(0, self.tr("SQLite（ワークスペース内）"))
        self.storage_kind.setItemText(1, self.tr("PostgreSQL（複数ワーカー）"))
        for field in (self.vlm, self.base, self.data, self.workspace, *self.specialists):
            field.retranslate()
        self.bounds.retranslate()
        self.preview.retranslate()
        self.resources.retranslate()
        self.validate()

    # -- models -----------------------------------------------------------------------------
    def add_specialist(self, path: Path | str | None = None) -> PathField:
        field = PathField("dir", removable=True)
        field.caption = self.tr("専門モデルのフォルダー")
        field.set_path(path)
        field.changed.connect(self._timer.start)
        field.removeRequested.connect(lambda: self.remove_specialist(field))
        self.specialists.append(field)
        self.specialist_box.addWidget(field)
        self._timer.start()
        return field

    def remove_specialist(self, field: PathField) -> None:
        self.specialists.remove(field)
        self.specialist_box.removeWidget(field)
        field.hide()
        field.deleteLater()
        self._timer.start()

    def model_fields(self) -> list[PathField]:
        """The merged models in the recipe's order: the VLM first, then the specialists."""
        return [self.vlm, *self.specialists]

    # -- checks -----------------------------------------------------------------------------
    def validate(self) -> bool:
        seen: dict[str, PathField] = {}
        for field in (self.base, *self.model_fields()):
            problem = model_folder_problem(field.text())
            key = os.path.realpath(field.text()) if field.text() else ""
            if not problem and key in seen:
                problem = self.tr("同じフォルダーが既に選ばれています。")
            seen.setdefault(key, field)
            field.set_message(
                problem or model_ok_message(field.path()), "error" if problem else "ok"
            )
        if field_ok(self.vlm) and not any(
            (self.vlm.path() / name).is_file()  # type: ignore[operator]
            for name in ("processor_config.json", "preprocessor_config.json")
        ):
            self.vlm.set_message(
                self.tr("画像の前処理設定（processor_config.json）がありません。VLM ですか？"),
                "warning",
            )
        self.bounds.set_models([f.path().name if f.path() else "?" for f in self.model_fields()])
        self._check_data()
        sampler = str(self.sampler.currentData())
        self.sampler_message.show_message(
            "" if sampler_available(sampler) else
            self.tr("cmaes パッケージがインストールされていません。TPE か GP を選んでください。")
        )  # fmt: skip
        bad = self.bounds.problem_keys()
        self.bounds.message.show_message(
            self.tr("下限が上限を超えています: ") + ", ".join(bad) if bad else ""
        )
        self._check_storage()
        self._check_workspace()
        self._update_resources()
        errors = [f.has_error for f in (self.base, *self.model_fields(), self.data,
                                         self.workspace)]  # fmt: skip
        errors += [self.sampler_message.is_error, self.bounds.message.is_error,
                   self.storage_message.is_error]  # fmt: skip
        self.valid = not any(errors)
        self.validityChanged.emit(self.valid)
        return self.valid

    def _check_data(self) -> None:
        self.dev = read_dev_set(self.data.text())
        if self.dev.error:
            self.data.set_message(self.dev.error)
        else:
            note = self.tr("%1 件").replace("%1", str(len(self.dev.rows)))
            if self.dev.skipped:
                note += self.tr("（レポートが空の %1 件は使いません）").replace(
                    "%1", str(self.dev.skipped)
                )
            self.data.set_message(note, "ok")
        self.preview.set_rows(self.dev.rows)

    def _check_storage(self) -> None:
        postgres = self.storage_kind.currentIndex() == 1
        self.storage_url.setEnabled(postgres)
        url = self.storage_url.text().strip()
        if postgres and not url.startswith(("postgresql://", "postgres://",
                                            "postgresql+psycopg://")):  # fmt: skip
            self.storage_message.show_message(
                self.tr(
                    "postgresql://ユーザー:パスワード@ホスト:ポート/データベース の形で入力してください。"  # noqa: E501
                )
            )
        else:
            self.storage_message.show_message("")

    def _check_workspace(self) -> None:
        path = self.workspace.path()
        problem = workspace_problem(path)
        if problem is not None or path is None:  # path is None gives a problem too
            self.workspace.set_message(problem or "")
        elif any((path / marker).exists() for marker in STUDY_MARKERS):
            self.workspace.set_message(
                self.tr("既存の探索があります。開始すると続きから再開します。"), "info"
            )
        elif access := workspace_access(path):
            self.workspace.set_message(*access)
        else:
            self.workspace.set_message(self.tr("新しい探索をこのフォルダーで始めます。"), "info")

    def _update_resources(self) -> None:
        if not field_ok(self.base) or not field_ok(self.vlm):
            self.resources.set_estimate(None, None, self.workspace.path())
            return
        base = weights_info(self.base.path())  # type: ignore[arg-type]
        vlm = weights_info(self.vlm.path())  # type: ignore[arg-type]
        n = len(self.model_fields())
        # ADR 0005: live VLM + base + one float16 task vector per model, ~10 % work buffers
        memory = int((vlm.bytes + base.bytes + n * base.parameters * 2) * 1.1)
        self.resources.set_estimate(memory, 2 * vlm.bytes, self.workspace.path())

    # -- the recipe -------------------------------------------------------------------------
    def storage(self) -> str | None:
        """The Optuna storage URL for ``--storage`` (None: SQLite in the workspace)."""
        return self.storage_url.text().strip() if self.storage_kind.currentIndex() == 1 else None

    def recipe(self) -> dict[str, Any]:
        models = [{"path": self.vlm.text(), "role": "vlm"}]
        models += [{"path": f.text(), "role": "llm"} for f in self.specialists]
        return {
            "base": self.base.text(),
            "models": models,
            "method": "jradievo",
            "device": self.device.currentText(),
            "evolve": {
                "data": self.data.text(),
                "n_trials": self.trials.value(),
                "sampler": self.sampler.currentData(),
                "bounds": self.bounds.recipe_bounds(),
                "max_new_tokens": self.max_new_tokens.value(),
                "batch_size": self.batch_size.value(),
                "export": {"enabled": True, "gguf": True},
            },
        }

    def load(self, recipe: dict[str, Any], workspace: Path, storage: str | None) -> None:
        """Fill the form from a workspace's recipe (reopening a run)."""
        models = recipe.get("models") or []
        paths = [m if isinstance(m, str) else m.get("path", "") for m in models]
        roles = ["llm" if isinstance(m, str) else m.get("role", "llm") for m in models]
        vlm = next((p for p, r in zip(paths, roles, strict=True) if r == "vlm"), "")
        self.vlm.set_path(vlm)
        self.base.set_path(recipe.get("base", ""))
        for field in list(self.specialists):
            self.remove_specialist(field)
        for path, role in zip(paths, roles, strict=True):
            if role != "vlm":
                self.add_specialist(path)
        settings = recipe.get("evolve") or {}
        data = settings.get("data", "")
        self.data.set_path(data.get("path", "") if isinstance(data, dict) else data)
        self.trials.setValue(int(settings.get("n_trials", self.trials.value())))
        index = self.sampler.findData(settings.get("sampler", EVOLVE_SAMPLER))
        self.sampler.setCurrentIndex(max(index, 0))
        self.max_new_tokens.setValue(
            int(settings.get("max_new_tokens", EVOLVE_MAX_NEW_TOKENS.default))
        )
        self.batch_size.setValue(int(settings.get("batch_size", EVOLVE_BATCH_SIZE.default)))
        self.device.setCurrentText(str(recipe.get("device", "auto")))
        self.storage_kind.setCurrentIndex(1 if storage else 0)
        self.storage_url.setText(storage or "")
        self.workspace.set_path(workspace)
        self.validate()
        self.bounds.load_recipe_bounds(settings.get("bounds") or {})
        self.validate()


def field_ok(field: PathField) -> bool:
    return bool(field.text()) and not field.has_error
