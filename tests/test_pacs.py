"""The PACS over DICOM DIMSE (issue #23), against a real Orthanc on 127.0.0.1.

Seeded by C-STORE through ``send``: the bundled sample CR (ISO 2022 IR 87 patient name), a
JPEG 2000 Secondary Capture from pydicom's test files, and a UTF-8 DX copy of the sample.
Orthanc 1.10 (Debian) indexes a multi-valued ``ISO 2022 IR 6\\ISO 2022 IR 87`` name as ASCII
(its escape sequences dropped), so the kanji decoding of a C-FIND answer is checked on the
UTF-8 copy, which Orthanc answers in ``ISO 2022 IR 87`` (``DefaultEncoding``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

import pydicom
import pytest
from orthanc_server import Orthanc, free_port, orthanc_server
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from jradi_desktop.cli import main
from jradi_desktop.pacs import (
    PacsConnectionError,
    PacsEntry,
    PacsEntryError,
    PacsError,
    PacsRegistry,
    echo,
    find_studies,
    get_study,
    send,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"
SAMPLE_ID = "JRADI-SAMPLE-0001"
UTF8_ID = "JRADI-UTF8-0001"
J2K = Path(get_testdata_file("JPEG2000.dcm"))
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"


def _copy_of_sample(path: Path, **changes: str) -> Path:
    """The sample with new UIDs (a new study unless given) and ``changes``, written to ``path``."""
    ds = pydicom.dcmread(SAMPLE)
    ds.PatientID = "JRADI-COPY"
    ds.StudyInstanceUID = changes.pop("StudyInstanceUID", generate_uid())
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def _utf8_dx(path: Path) -> Path:
    """A DX copy of the sample whose text is UTF-8 (ISO_IR 192), the kanji name included."""
    ds = pydicom.dcmread(SAMPLE)
    ds.decode()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientID = UTF8_ID
    ds.Modality = "DX"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Orthanc, PacsEntry]:
    """A running Orthanc seeded by C-STORE, and our entry for it (stopped after the module)."""
    folder = tmp_path_factory.mktemp("orthanc")
    with orthanc_server(folder / "server") as server:
        entry = PacsEntry("test", server.host, server.dicom_port, server.aet, timeout=10)
        seeds = [SAMPLE, J2K, _utf8_dx(folder / "utf8.dcm")]
        results = send(entry, seeds)
        assert [r.ok for r in results] == [True] * 3, [r.message_en for r in results]
        yield server, entry


def _body(path: Path) -> bytes:
    """A DICOM file's dataset as encoded, after the preamble and the file meta."""
    with open(path, "rb") as f:
        pydicom.filereader.read_preamble(f, False)
        pydicom.filereader._read_file_meta_info(f)
        return f.read()


# --- Entries (no network) --------------------------------------------------------------------


def test_entries_are_checked_and_stored_atomically(tmp_path: Path):
    registry = PacsRegistry(tmp_path / "pacs.json")
    registry.add(PacsEntry("院内", "127.0.0.1", 104, "PACS"))
    with pytest.raises(PacsEntryError, match="already registered"):
        registry.add(PacsEntry("院内", "127.0.0.1", 11112, "PACS"))
    registry.add(PacsEntry("院内", "127.0.0.1", 11112, "PACS"), replace=True)
    data = json.loads((tmp_path / "pacs.json").read_text(encoding="utf-8"))
    assert data["pacs"][0] == {
        "name": "院内", "host": "127.0.0.1", "port": 11112, "aet": "PACS", "our_aet": "JRADI",
        "tls_ca": None, "tls_cert": None, "tls_key": None, "timeout": 30.0, "move_port": None,
    }  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pacs.json", "pacs.json.lock"]
    older = tmp_path / "older" / "pacs.json"  # written before entries had a C-MOVE port
    older.parent.mkdir()
    del data["pacs"][0]["move_port"]
    older.write_text(json.dumps(data), encoding="utf-8")
    assert PacsRegistry(older).get("院内").retrieve_method == "C-GET"
    with pytest.raises(PacsEntryError, match="port 0 must be 1 to 65535"):
        PacsEntry("x", "h", 0, "PACS")
    with pytest.raises(PacsEntryError, match="not a valid AE title"):
        PacsEntry("x", "h", 104, "A_TITLE_LONGER_THAN_16")
    with pytest.raises(PacsEntryError, match="--tls-cert and --tls-key"):
        PacsEntry("x", "h", 104, "PACS", tls_ca="ca.pem", tls_cert="c.pem")
    registry.remove("院内")
    with pytest.raises(PacsEntryError, match="'院内' is not registered"):
        registry.get("院内")


def test_a_broken_pacs_json_names_the_file(tmp_path: Path):
    path = tmp_path / "pacs.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(PacsEntryError, match=r"pacs\.json: the PACS list cannot be read"):
        PacsRegistry(path).names()
    assert path.read_text(encoding="utf-8") == "{not json"


def test_a_missing_tls_file_is_named(tmp_path: Path):
    entry = PacsEntry("tls", "127.0.0.1", free_port(), "PACS", tls_ca=str(tmp_path / "ca.pem"))
    with pytest.raises(PacsEntryError, match=r"the TLS CA file .*ca\.pem does not exist"):
        echo(entry)


def test_a_silent_peer_times_out_in_bounded_time():
    """A port that accepts TCP but never answers the association request: the ACSE timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        entry = PacsEntry("silent", "127.0.0.1", listener.getsockname()[1], "PACS", timeout=1)
        started = time.monotonic()
        with pytest.raises(PacsConnectionError, match="no answer within 1 s") as raised:
            echo(entry)
        assert time.monotonic() - started < 10
    assert "応答がありません" in raised.value.message_ja


# --- Against Orthanc -------------------------------------------------------------------------


@pytest.mark.slow
def test_echo(pacs: tuple[Orthanc, PacsEntry]):
    echo(pacs[1])


@pytest.mark.slow
def test_echo_to_a_closed_port_is_a_clear_refusal(pacs: tuple[Orthanc, PacsEntry]):
    port = free_port()
    started = time.monotonic()
    with pytest.raises(PacsConnectionError) as raised:
        echo(PacsEntry("closed", "127.0.0.1", port, "ORTHANC", timeout=5))
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{port}" in raised.value.message_en
    assert "connection refused" in raised.value.message_en
    assert "拒否" in raised.value.message_ja


@pytest.mark.slow
def test_tls_to_a_plain_port_is_a_tls_failure(pacs: tuple[Orthanc, PacsEntry]):
    import certifi

    server, _ = pacs
    entry = PacsEntry("tls", server.host, server.dicom_port, server.aet, tls_ca=certifi.where())
    with pytest.raises(PacsConnectionError, match="TLS") as raised:
        echo(entry)
    assert "TLS" in raised.value.message_ja


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Failed to encode value:UserWarning")
def test_find_by_patient_id_decodes_kanji(pacs: tuple[Orthanc, PacsEntry]):
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as Find

    from jradi_desktop.pacs._association import associate

    _, entry = pacs
    [study] = find_studies(entry, patient_id=UTF8_ID)
    assert study.patient_name == "Shiken^Hanako=試験^花子=しけん^はなこ"
    assert study.modalities == ("DX",) and study.instances == 1 and study.series == 1
    assert study.study_date == "20260401"
    # The answer really is ISO 2022 IR 87 (JIS X 0208 with escape sequences) on the wire.
    query = Dataset()
    query.QueryRetrieveLevel, query.PatientID, query.PatientName = "STUDY", UTF8_ID, ""
    with associate(entry, [(Find, ("1.2.840.10008.1.2",))]) as assoc:
        answers = [i for _, i in assoc.send_c_find(query, Find) if i is not None]
    assert answers[0].SpecificCharacterSet == "ISO 2022 IR 87"

    [sample] = find_studies(entry, patient_id=SAMPLE_ID, date="20260401")
    assert sample.study_uid == pydicom.dcmread(SAMPLE).StudyInstanceUID
    assert sample.modalities[0] == "CR"
    assert find_studies(entry, patient_id=SAMPLE_ID, date="20000101-20001231") == []
    assert find_studies(entry, patient_id=SAMPLE_ID, modalities=("NM",)) == []
    [nm] = find_studies(entry, modalities=("NM",))
    assert nm.patient_id == "8NM1"
    with pytest.raises(PacsError, match="YYYYMMDD"):
        find_studies(entry, date="2026-04-01")


@pytest.mark.slow
@pytest.mark.parametrize("source", [SAMPLE, J2K], ids=["CR", "JPEG2000"])
def test_get_writes_the_instance_as_stored(
    pacs: tuple[Orthanc, PacsEntry], source: Path, tmp_path: Path
):
    entry = pacs[1]
    original = pydicom.dcmread(source)
    seen: list[tuple[int, int]] = []
    result = get_study(
        entry, original.StudyInstanceUID, tmp_path / "受信", progress=lambda *p: seen.append(p)
    )
    expected = tmp_path / "受信" / f"{original.SOPInstanceUID}.dcm"
    assert result.files == [expected] and result.completed == 1 and not result.cancelled
    assert seen[-1] == (1, 1)
    got = pydicom.dcmread(expected)
    assert got.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    server, _ = pacs
    [stored] = server.rest(
        "/tools/find", {"Level": "Instance", "Query": {"SOPInstanceUID": original.SOPInstanceUID}}
    )  # Orthanc (DCMTK) may re-encode what it was sent: compare with what it holds
    assert _body(expected) == _body_of_bytes(server.rest_bytes(f"/instances/{stored}/file"))
    assert [e.tag for e in got] == [e.tag for e in original]
    assert all(got[e.tag] == e for e in original)
    assert (got.pixel_array == original.pixel_array).all()


@pytest.mark.slow
def test_get_can_be_cancelled(pacs: tuple[Orthanc, PacsEntry], tmp_path: Path):
    _, entry = pacs
    study = generate_uid()
    copies = [_copy_of_sample(tmp_path / f"{n}.dcm", StudyInstanceUID=study) for n in range(8)]
    assert all(r.ok for r in send(entry, copies))
    cancel = threading.Event()
    result = get_study(
        entry, study, tmp_path / "out", progress=lambda *_: cancel.set(), cancel=cancel
    )
    assert result.cancelled and 1 <= len(result.files) < 8
    already = threading.Event()
    already.set()
    assert get_study(entry, study, tmp_path / "none", cancel=already).files == []
    with pytest.raises(PacsError, match=r"study 1\.2\.3\.4"):
        get_study(entry, "1.2.3.4", tmp_path / "none")


@pytest.mark.slow
def test_send_an_sr_files_it_in_the_same_study(pacs: tuple[Orthanc, PacsEntry], tmp_path: Path):
    from jradi_desktop.imaging import open_image
    from jradi_desktop.reports import ReportDocument, write_dicom_sr

    server, entry = pacs
    before = find_studies(entry, patient_id=SAMPLE_ID, modalities=None)[0].instances
    doc = ReportDocument.from_image(
        open_image(SAMPLE), findings="心拡大なし。", impression="異常なし。",
        model_name="jradi-demo", generated_at=datetime(2026, 4, 1, 10, 30),
    )  # fmt: skip
    sr_path = write_dicom_sr(doc, tmp_path / "所見レポート.dcm")
    not_dicom = tmp_path / "メモ.txt"
    not_dicom.write_text("not DICOM")
    ok, bad = send(entry, [sr_path, not_dicom])
    assert ok.ok and ok.status == 0x0000 and ok.path == sr_path
    assert (
        not bad.ok
        and "メモ.txt" in bad.message_en
        and "cannot be read as a DICOM" in bad.message_en
    )

    [study] = find_studies(entry, patient_id=SAMPLE_ID, modalities=None)
    assert study.instances == before + 1 and "SR" in study.modalities
    sr = pydicom.dcmread(sr_path)
    [found] = server.rest(
        "/tools/find", {"Level": "Instance", "Query": {"SOPInstanceUID": sr.SOPInstanceUID}}
    )
    parent = server.rest(f"/instances/{found}")["ParentSeries"]
    study_id = server.rest(f"/series/{parent}")["ParentStudy"]
    tags = server.rest(f"/studies/{study_id}")["MainDicomTags"]
    assert tags["StudyInstanceUID"] == pydicom.dcmread(SAMPLE).StudyInstanceUID
    assert _body_of_bytes(server.rest_bytes(f"/instances/{found}/file")) == _body(sr_path)


def _body_of_bytes(data: bytes) -> bytes:
    from io import BytesIO

    f = BytesIO(data)
    pydicom.filereader.read_preamble(f, False)
    pydicom.filereader._read_file_meta_info(f)
    return f.read()


@pytest.mark.slow
def test_cli_round_trip(
    pacs: tuple[Orthanc, PacsEntry], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    server, _ = pacs
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    port = str(server.dicom_port)
    add = ["pacs", "add", "院内PACS", "--host", "127.0.0.1", "--port", port, "--aet", "ORTHANC"]
    assert main([*add, "--timeout", "10"]) == 0
    assert main(["pacs", "list"]) == 0
    assert f"院内PACS\t127.0.0.1:{port}\tORTHANC\tJRADI\t-\t10 s" in capsys.readouterr().out
    assert main(["pacs", "echo", "院内PACS"]) == 0
    assert "C-ECHO OK" in capsys.readouterr().out

    assert main(["pacs", "find", "院内PACS", "--patient-id", UTF8_ID, "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    study = json.loads(line)
    assert "試験^花子" in study["PatientName"] and study["ModalitiesInStudy"] == ["DX"]

    out = tmp_path / "受信"
    assert main(["pacs", "get", "院内PACS", study["StudyInstanceUID"], "--out", str(out)]) == 0
    [written] = out.iterdir()
    assert capsys.readouterr().out.strip() == str(written)
    copy = _copy_of_sample(tmp_path / "copy.dcm")
    assert main(["pacs", "send", "院内PACS", str(copy)]) == 0
    assert "sent (0x0000 (Success))" in capsys.readouterr().out

    assert main(["pacs", "add", "closed", "--host", "127.0.0.1", "--port",
                 str(free_port()), "--aet", "X", "--timeout", "5"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["pacs", "echo", "closed"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "拒否" in err and "connection refused" in err
    assert main(["pacs", "remove", "院内PACS"]) == 0
    assert main(["pacs", "echo", "院内PACS"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("jradi pacs echo: PACS '院内PACS' は登録されていません")
    assert "Traceback" not in err and err.count("\n") == 1
