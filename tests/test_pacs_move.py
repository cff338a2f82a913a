"""C-MOVE for a PACS without C-GET, against a real Orthanc: our own storage SCP listens on
the port the Orthanc configuration registers for our AE title, and receives the study."""

from __future__ import annotations

import socket
from pathlib import Path

import pydicom
import pytest
from orthanc_server import Orthanc, orthanc_server
from pacs_data import study_of_small_crs

from jradi_desktop.cli import main
from jradi_desktop.pacs import (
    PacsConnectionError,
    PacsEntry,
    PacsEntryError,
    PacsRegistry,
    StudyCache,
    move_study,
    send,
)
from jradi_desktop.ui.pacs_panel import PacsPanel

PATIENT = "JRADI-MOVE-0001"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Orthanc, PacsEntry, str, list[Path]]:
    folder = tmp_path_factory.mktemp("orthanc-move")
    with orthanc_server(folder / "server") as server:
        entry = PacsEntry("move", server.host, server.dicom_port, server.aet, timeout=10)
        study, files = study_of_small_crs(folder / "seed", 3, PATIENT)
        assert all(r.ok for r in send(entry, files))
        yield server, entry, study, files


def test_cli_get_with_move(pacs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    server, _, study, files = pacs
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    assert main(["pacs", "add", "院内", "--host", server.host, "--port", str(server.dicom_port),
                 "--aet", server.aet, "--timeout", "10"]) == 0  # fmt: skip
    out = tmp_path / "受信"
    argv = ["pacs", "get", "院内", study, "--out", str(out), "--move"]
    assert main([*argv, "--listen-port", str(server.move_port)]) == 0
    written = sorted(capsys.readouterr().out.split()[-3:])
    sent = {pydicom.dcmread(f).SOPInstanceUID: f for f in files}
    assert sorted(Path(w).name for w in written) == sorted(f"{uid}.dcm" for uid in sent)
    for path in written:
        got = pydicom.dcmread(path)
        assert got.PixelData == pydicom.dcmread(sent[got.SOPInstanceUID]).PixelData


def test_move_into_the_cache_records_the_pacs(pacs, tmp_path: Path):
    server, entry, study, _ = pacs
    cached = StudyCache(tmp_path / "cache").retrieve(entry, study, move_port=server.move_port)
    assert cached is not None and len(cached.files) == 3
    assert StudyCache(tmp_path / "cache").origin(cached.files[0]) == "move"


def test_a_listen_port_in_use_is_named(pacs, tmp_path: Path):
    _, entry, study, _ = pacs
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(PacsConnectionError) as raised:
            move_study(entry, study, tmp_path / "out", port)
    assert f"cannot listen on 127.0.0.1:{port}" in raised.value.message_en
    assert "--listen-port" in raised.value.message_ja and "PACS の設定" in raised.value.message_ja


def test_an_entry_added_with_a_move_port_retrieves_by_c_move(
    pacs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """`jradi pacs add --move-port P`: `pacs get` (no --move), the cache and the app's PACS tab
    retrieve by C-MOVE to that port; `pacs list` says so."""
    server, _, study, _ = pacs
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    assert main(["pacs", "add", "移動", "--host", server.host, "--port", str(server.dicom_port),
                 "--aet", server.aet, "--timeout", "10",
                 "--move-port", str(server.move_port)]) == 0  # fmt: skip
    assert main(["pacs", "list"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"C-MOVE :{server.move_port}")
    assert main(["pacs", "get", "移動", study, "--out", str(tmp_path / "受信")]) == 0
    written = capsys.readouterr().out.split()
    assert len(written) == 3 and all(Path(w).is_file() for w in written)

    entry = PacsRegistry().get("移動")
    cached = StudyCache(tmp_path / "cache").retrieve(entry, study)  # the entry's way
    assert cached is not None and len(cached.files) == 3


@pytest.mark.gui
def test_the_pacs_tab_retrieves_by_c_move_for_such_an_entry(pacs, tmp_path: Path, qtbot):
    server, _, _, files = pacs
    registry = PacsRegistry(tmp_path / "pacs.json")
    registry.add(PacsEntry("移動", server.host, server.dicom_port, server.aet, timeout=10,
                           move_port=server.move_port))  # fmt: skip
    panel = PacsPanel(registry, StudyCache(tmp_path / "cache"))
    qtbot.addWidget(panel)
    panel.patient_id.setText(PATIENT)
    panel.search()
    qtbot.waitUntil(lambda: panel.job is None and panel.table.rowCount() == 1, timeout=20000)
    with qtbot.waitSignal(panel.studyOpened, timeout=30000) as opened:
        panel.retrieve(0)
    sent = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    assert {Path(p).stem for p in opened.args[0]} == sent


def test_a_bad_move_port_is_refused():
    with pytest.raises(PacsEntryError, match="C-MOVE の受信ポート 0"):
        PacsEntry("移動", "10.0.0.7", 104, "MOVE_AET", move_port=0)
