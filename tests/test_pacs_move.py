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
from jradi_desktop.pacs import PacsConnectionError, PacsEntry, StudyCache, move_study, send

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
    assert "--listen-port" in raised.value.message_ja
