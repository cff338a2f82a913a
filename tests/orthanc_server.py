"""A real PACS for the tests: Orthanc (Debian package ``orthanc``) on loopback, free ports.

:func:`orthanc_server` starts ``Orthanc CONFIG.json`` as a child process with a generated
configuration (a temporary storage folder, our AE title ``JRADI`` allowed to echo, find, get,
move and store, registered as a C-MOVE destination on 127.0.0.1 at ``move_port``; ``extra``
keys override the rest, e.g. DICOM TLS), waits until its REST API answers ``GET /system`` on
127.0.0.1 (bounded), and always stops it afterwards: terminate, then kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
AET = "ORTHANC"
START_TIMEOUT_S = 30.0


def orthanc_or_fail() -> str:
    """The ``Orthanc`` binary: skip without it locally, fail in CI (``.ci/run`` installs it)."""
    found = shutil.which("Orthanc")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Orthanc is missing: .ci/run installs it (Debian: apt-get install orthanc)")
    pytest.skip("Orthanc not installed (Debian: apt-get install orthanc); CI installs it")


def free_port() -> int:
    """A TCP port nobody listens on at this moment, on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    """A running Orthanc: where it listens, its folder and its log."""

    dicom_port: int
    http_port: int
    folder: Path
    log: Path
    move_port: int = 0  # where Orthanc sends a C-MOVE's instances to our AE title
    pid: int = 0
    aet: str = AET
    host: str = HOST

    def rest(self, path: str, body: Any = None) -> Any:
        """``GET`` (or ``POST`` JSON ``body``) ``path`` on the REST API, decoded from JSON."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{HOST}:{self.http_port}{path}", data=data)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def rest_bytes(self, path: str) -> bytes:
        url = f"http://{HOST}:{self.http_port}{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()


def configuration(
    server: Orthanc, our_aet: str, extra: dict[str, Any], move_over_tls: bool = False
) -> dict[str, Any]:
    folder, dicom_port, http_port = server.folder, server.dicom_port, server.http_port
    return {
        "Name": "jradi-test-pacs",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": AET,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomCheckModalityHost": False,
        "DicomScpTimeout": 30,
        "DefaultEncoding": "JapaneseKanji",
        "DicomModalities": {
            "jradi": {
                "AET": our_aet,
                "Host": HOST,
                "Port": server.move_port,
                "AllowEcho": True,
                "AllowFind": True,
                "AllowGet": True,
                "AllowMove": True,
                "AllowStore": True,
                "UseDicomTls": move_over_tls,  # C-MOVE's C-STOREs to us over DICOM TLS
            }
        },
        "Plugins": [],
        "SaveJobs": False,
        **extra,
    }


def _wait_until_up(server: Orthanc, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Orthanc exited with {process.returncode}:\n{server.log.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            server.rest("/system")
            return
        time.sleep(0.2)
    raise RuntimeError(f"Orthanc did not answer in {START_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def orthanc_server(
    folder: Path,
    our_aet: str = "JRADI",
    extra: dict[str, Any] | None = None,
    move_over_tls: bool = False,
) -> Iterator[Orthanc]:
    """Run Orthanc in ``folder`` for the ``with`` block; it is stopped however the block ends."""
    binary = orthanc_or_fail()
    folder.mkdir(parents=True, exist_ok=True)
    server = Orthanc(free_port(), free_port(), folder, folder / "orthanc.log", free_port())
    config = folder / "orthanc.json"
    config.write_text(
        json.dumps(configuration(server, our_aet, extra or {}, move_over_tls), indent=2)
    )
    with open(server.log, "wb") as log:
        process = subprocess.Popen(
            [binary, str(config)], stdout=log, stderr=subprocess.STDOUT, cwd=folder
        )
    server.pid = process.pid
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        _stop(process)
