"""``jradi report … --send-sr NAME`` (batch use): each report's DICOM SR goes into its image's
study on the PACS, against a real Orthanc; a failure is one clear line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pydicom
import pytest
from orthanc_server import free_port
from pacs_data import copy_of_sample

from jradi_desktop.cli import main
from jradi_desktop.pacs import PacsEntry, PacsRegistry, find_studies

PATIENT = "JRADI-BATCH-0001"
pytestmark = pytest.mark.slow


def test_report_send_sr_files_each_report_in_its_study(plain_pacs, demo_data: Path, capsys):
    server, entry = plain_pacs
    PacsRegistry().add(entry)
    image = copy_of_sample(demo_data / "chest.dcm", PATIENT)
    assert main(["report", str(image), "--model", "demo", "--json", "--send-sr", "院内"]) == 0
    out, err = capsys.readouterr()
    findings = json.loads(out.splitlines()[-1])["findings"]
    assert "SR sent to PACS 院内 (status 0x0000)" in err
    [study] = find_studies(entry, patient_id=PATIENT, modalities=None)
    assert study.study_uid == pydicom.dcmread(image).StudyInstanceUID
    assert study.modalities == ("SR",) and study.instances == 1  # the image was never sent
    [sr_id] = server.rest("/tools/find", {"Level": "Instance", "Query": {"PatientID": PATIENT}})
    tags = server.rest(f"/instances/{sr_id}/simplified-tags")
    assert tags["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.88.11"
    assert findings.strip()


def test_report_send_sr_failures_are_one_line(plain_pacs, demo_data: Path, capsys):
    image = copy_of_sample(demo_data / "chest.dcm", PATIENT)
    assert main(["report", str(image), "--model", "demo", "--send-sr", "ない"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("jradi report: PACS 'ない' は登録されていません")
    assert err.count("\n") == 1

    PacsRegistry().add(PacsEntry("down", "127.0.0.1", free_port(), "X", timeout=5))
    png = demo_data / "chest.png"
    assert main(["render", str(image), str(png)]) == 0
    assert main(["report", str(image), str(png), "--model", "demo", "--send-sr", "down"]) == 1
    lines = re.findall(r"jradi report: [^\r\n]*", capsys.readouterr().err)  # after \r
    assert len(lines) == 2
    assert "down (X@127.0.0.1:" in lines[0] and "[C-STORE]" in lines[0]
    assert "connection refused" in lines[0]
    assert "chest.png" in lines[1] and "not a DICOM image" in lines[1]
