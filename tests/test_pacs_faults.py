"""The PACS faults of issue #23 against a real Orthanc: a PACS that is down, a wrong AE title,
a timeout in the middle of a transfer, a study of 200 instances; the cache of retrieved
studies is never left half-written, and no patient identifier reaches a log."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pydicom
import pytest
from orthanc_server import Orthanc, free_port, orthanc_server
from pacs_data import study_of_small_crs

from jradi_desktop.pacs import (
    PacsConnectionError,
    PacsEntry,
    PacsError,
    StudyCache,
    find_studies,
    get_study,
    send,
)

MANY_ID = "JRADI-MANY-200"
FEW_ID = "JRADI-FEW-0003"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Orthanc, PacsEntry, str, str]:
    """Orthanc checking the called AE title, seeded with a study of 200 small CRs and one of
    3."""
    folder = tmp_path_factory.mktemp("orthanc-faults")
    with orthanc_server(folder / "server", extra={"DicomCheckCalledAet": True}) as server:
        entry = PacsEntry("faults", server.host, server.dicom_port, server.aet, timeout=10)
        study, files = study_of_small_crs(folder / "many", 200, MANY_ID)
        small, few = study_of_small_crs(folder / "few", 3, FEW_ID)
        assert all(r.ok for r in send(entry, files + few))
        yield server, entry, study, small


def _cache_is_clean(cache: StudyCache) -> None:
    """Nothing half-written: no study folder, no partial folder."""
    assert not cache.folder.exists() or list(cache.folder.iterdir()) == []


def test_a_pacs_that_is_down_names_the_pacs_and_the_step(tmp_path: Path):
    entry = PacsEntry("病院PACS", "127.0.0.1", free_port(), "ORTHANC", timeout=5)
    cache = StudyCache(tmp_path / "cache")
    started = time.monotonic()
    for call, step in ((lambda: find_studies(entry, patient_id="x"), "C-FIND"),
                       (lambda: cache.retrieve(entry, "1.2.3"), "C-GET")):  # fmt: skip
        with pytest.raises(PacsConnectionError) as raised:
            call()
        assert f"病院PACS (ORTHANC@127.0.0.1:{entry.port}) [{step}]" in raised.value.message_en
        assert "connection refused" in raised.value.message_en
        assert "拒否" in raised.value.message_ja
    assert time.monotonic() - started < 10
    _cache_is_clean(cache)


def test_a_wrong_pacs_ae_title_is_a_rejected_association(pacs):
    server = pacs[0]
    entry = PacsEntry("wrong", server.host, server.dicom_port, "NOT_ORTHANC", timeout=5)
    with pytest.raises(PacsConnectionError) as raised:
        find_studies(entry, patient_id=MANY_ID)
    message = raised.value.message_en
    assert "[C-FIND]: the association was rejected" in message
    assert "Called AE title not recognised" in message and "check that both AE titles" in message
    assert "拒否" in raised.value.message_ja


def test_our_ae_title_unknown_to_the_pacs_is_named(pacs):
    server = pacs[0]
    entry = PacsEntry("stranger", server.host, server.dicom_port, server.aet,
                      our_aet="STRANGER", timeout=5)  # fmt: skip
    with pytest.raises(PacsConnectionError) as raised:
        find_studies(entry, patient_id=MANY_ID)
    assert "allows our AE title STRANGER to use C-FIND" in raised.value.message_en
    assert "STRANGER" in raised.value.message_ja


def test_200_instances_arrive_with_progress(pacs, tmp_path: Path):
    _, entry, study, _ = pacs
    [match] = find_studies(entry, patient_id=MANY_ID)
    assert match.instances == 200 and match.series == 1
    seen: list[tuple[int, int]] = []
    started = time.monotonic()
    cached = StudyCache(tmp_path / "cache").retrieve(entry, study, lambda *p: seen.append(p))
    assert time.monotonic() - started < 60
    assert cached is not None and len(cached.files) == 200 and cached.failed == 0
    assert seen[-1] == (200, 200) and len(seen) >= 200
    numbers = sorted(int(pydicom.dcmread(f).InstanceNumber) for f in cached.files)
    assert numbers == list(range(200))
    assert sorted(p.name for p in cached.folder.parent.iterdir()) == [study]


def test_a_timeout_mid_transfer_is_bounded_and_leaves_nothing(pacs, tmp_path: Path):
    """Orthanc is frozen (SIGSTOP) once the first instance has arrived: our DIMSE timeout
    ends the C-GET with a message naming the PACS and the step, and the cache keeps nothing."""
    server, entry, study, _ = pacs
    slow = PacsEntry("slow", server.host, server.dicom_port, server.aet, timeout=2)
    cache = StudyCache(tmp_path / "cache")
    frozen = threading.Event()

    def freeze(done: int, total: int) -> None:
        if done >= 1 and not frozen.is_set():
            frozen.set()
            os.kill(server.pid, signal.SIGSTOP)

    started = time.monotonic()
    try:
        with pytest.raises(PacsConnectionError) as raised:
            cache.retrieve(slow, study, freeze)
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert frozen.is_set() and time.monotonic() - started < 20
    assert "slow (ORTHANC@" in raised.value.message_en
    assert "C-GET got no answer within 2 s" in raised.value.message_en
    _cache_is_clean(cache)
    assert find_studies(entry, patient_id=MANY_ID)[0].instances == 200  # Orthanc lives on


def test_a_stopped_retrieve_keeps_nothing_and_a_cached_study_is_reused(pacs, tmp_path: Path):
    _, entry, _, study = pacs
    cache = StudyCache(tmp_path / "cache")
    stop = threading.Event()
    assert cache.retrieve(entry, study, lambda *_: stop.set(), stop) is None
    _cache_is_clean(cache)
    assert cache.lookup(study) is None
    fetched = cache.retrieve(entry, study)
    again = cache.lookup(study)
    assert again is not None and again.from_cache and again.files == fetched.files
    assert cache.origin(fetched.files[0]) == "faults" and cache.origin(__file__) is None


def test_no_patient_identifier_reaches_a_log(
    pacs, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    _, entry, _, study = pacs
    caplog.set_level(logging.DEBUG)
    find_studies(entry, patient_id=FEW_ID)
    get_study(entry, study, tmp_path / "out")
    with pytest.raises(PacsError):
        find_studies(PacsEntry("x", "127.0.0.1", free_port(), "X", timeout=2), patient_id=FEW_ID)
    assert all(
        FEW_ID not in r.getMessage() and "Test^Many" not in r.getMessage()
        for r in caplog.records
    )  # fmt: skip


def test_the_cache_evicts_the_least_recently_used_studies(tmp_path: Path):
    cache = StudyCache(tmp_path / "cache", limit_bytes=3500)
    for age, uid in enumerate(("1.1", "1.2", "1.3", "1.4")):
        folder = cache.folder / uid
        folder.mkdir(parents=True)
        (folder / "x.dcm").write_bytes(b"\0" * 1000)
        (folder / "study.json").write_text('{"pacs": "p", "failed": 0}')
        os.utime(folder / "study.json", (1000 + age, 1000 + age))
    partial = cache.folder / ".partial-1.5-abc"
    partial.mkdir()
    os.utime(partial, (0, 0))  # left by a crash long ago
    assert cache.lookup("1.1") is not None  # used now: the most recent
    assert cache.evict(keep="1.2") == ["1.3"]
    assert sorted(p.name for p in cache.folder.iterdir()) == ["1.1", "1.2", "1.4"]
