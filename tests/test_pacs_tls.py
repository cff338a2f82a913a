"""DICOM TLS against a real Orthanc (1.9+ has ``DicomTlsEnabled``): a test CA signs Orthanc's
certificate and ours (the ``openssl`` CLI writes them); Orthanc requires a client certificate.
Echo and find succeed over TLS; without our certificate the handshake fails, clearly. A C-MOVE
comes back over TLS too (Orthanc's ``UseDicomTls`` for our AE title): our storage SCP listens
with our certificate and requires Orthanc's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from orthanc_server import Orthanc, orthanc_server
from pacs_data import copy_of_sample

from jradi_desktop.pacs import (
    PacsConnectionError,
    PacsEntry,
    PacsEntryError,
    echo,
    find_studies,
    move_study,
    send,
)

PATIENT = "JRADI-TLS-0001"
pytestmark = pytest.mark.slow


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _signed(folder: Path, name: str, subject: str, extensions: str) -> None:
    """``name.key`` and ``name.crt`` signed by the CA in ``folder``."""
    (folder / f"{name}.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\n"
        f"authorityKeyIdentifier=keyid,issuer\nkeyUsage=digitalSignature,keyEncipherment\n"
        f"{extensions}\n"
    )
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", subject, cwd=folder)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.crt",
             "-extfile", f"{name}.ext", cwd=folder)  # fmt: skip


def make_certificates(folder: Path) -> Path:
    """A CA, Orthanc's certificate (for 127.0.0.1) and our client certificate, in ``folder``."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to write the test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "2", "-subj", "/CN=JRadi Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)  # fmt: skip
    _signed(folder, "server", "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth")  # fmt: skip
    # Ours is a server's too: for a C-MOVE over TLS the PACS connects to our storage SCP.
    _signed(folder, "client", "/CN=JRADI",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth")  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def tls_pacs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Orthanc, Path]:
    folder = tmp_path_factory.mktemp("orthanc-tls")
    certs = make_certificates(folder / "certs")
    tls = {
        "DicomTlsEnabled": True,
        "DicomTlsCertificate": str(certs / "server.crt"),
        "DicomTlsPrivateKey": str(certs / "server.key"),
        "DicomTlsTrustedCertificates": str(certs / "ca.crt"),
        "DicomTlsRemoteCertificateRequired": True,
    }
    with orthanc_server(folder / "server", extra=tls, move_over_tls=True) as server:
        yield server, certs


def _entry(server: Orthanc, certs: Path, client: bool = True) -> PacsEntry:
    cert = {"tls_cert": str(certs / "client.crt"), "tls_key": str(certs / "client.key")}
    ca = str(certs / "ca.crt")
    address = (server.host, server.dicom_port, server.aet)
    return PacsEntry("tls", *address, tls_ca=ca, timeout=10, **(cert if client else {}))


def test_echo_find_and_store_over_tls(tls_pacs, tmp_path: Path):
    server, certs = tls_pacs
    entry = _entry(server, certs)
    echo(entry)
    assert send(entry, [copy_of_sample(tmp_path / "copy.dcm", PATIENT)])[0].ok
    [study] = find_studies(entry, patient_id=PATIENT)
    assert study.instances == 1 and study.modalities == ("CR",)


def test_without_our_certificate_the_tls_pacs_refuses(tls_pacs):
    server, certs = tls_pacs
    with pytest.raises(PacsConnectionError) as raised:
        echo(_entry(server, certs, client=False))
    assert "[C-ECHO]" in raised.value.message_en and "TLS" in raised.value.message_en


def test_plain_dicom_to_the_tls_port_fails_in_bounded_time(tls_pacs):
    server, _ = tls_pacs
    with pytest.raises(PacsConnectionError, match=r"tls \(ORTHANC@127\.0\.0\.1:\d+\) \[C-ECHO\]"):
        echo(PacsEntry("tls", server.host, server.dicom_port, server.aet, timeout=3))


def test_a_c_move_comes_back_over_tls(tls_pacs, tmp_path: Path):
    server, certs = tls_pacs
    entry = _entry(server, certs)
    sent = copy_of_sample(tmp_path / "move.dcm", "JRADI-TLS-MOVE")
    assert send(entry, [sent])[0].ok
    study = str(pydicom.dcmread(sent).StudyInstanceUID)
    result = move_study(entry, study, tmp_path / "out", server.move_port)
    [received] = result.files
    assert pydicom.dcmread(received).PixelData == pydicom.dcmread(sent).PixelData


def test_a_c_move_over_tls_without_our_certificate_is_refused_first(tls_pacs, tmp_path: Path):
    server, certs = tls_pacs
    with pytest.raises(PacsEntryError, match="needs our certificate and key"):
        move_study(_entry(server, certs, client=False), "1.2.3", tmp_path / "out",
                   server.move_port)  # fmt: skip
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
