"""Report exports on a full disk: the old file survives, the message names the file and the
reason in both languages, and never carries a traceback.

The disk is filled for real at the operating system's boundary: the one call that opens an
export's file for its bytes (``reports._atomic._open_output``) is pointed at ``/dev/full``,
where every write fails with ENOSPC. Qt's PDF writer does not report failed writes at all; its
full-disk failure is a file cut short, which the tests make from a real export.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pydicom
import pytest
from test_reports import make_doc

from jradi_desktop.reports import (
    IncompleteFileError,
    ReportExportError,
    _atomic,
    atomic_write,
    build_dicom_sr,
    write_dicom_sr,
    write_markdown,
    write_text,
)
from jradi_desktop.reports._dicom_common import same_instance
from jradi_desktop.reports._errors import os_error

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(
    not DEV_FULL.exists(), reason="/dev/full (always ENOSPC) exists on Linux only"
)
OLD = b"the previous report, which must survive\n"


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every export's bytes go to /dev/full: the write fails with a real OSError(ENOSPC)."""
    monkeypatch.setattr(_atomic, "_open_output", lambda _path: open(DEV_FULL, "wb"))  # noqa: SIM115


def _assert_full_disk_message(error: ReportExportError, target: Path) -> None:
    assert error.path == target
    assert str(target) in error.message_ja and str(target) in error.message_en
    assert "ディスクの空き容量が不足しています" in error.message_ja
    assert "no space left on device" in error.message_en
    assert "元のファイルは変更していません" in error.message_ja
    assert "existing file was not changed" in error.message_en
    assert "Traceback" not in str(error) and 'File "' not in str(error)
    assert len(str(error).splitlines()) == 2  # one line per language


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())  # no temporary ".part" file left behind


@needs_dev_full
@pytest.mark.parametrize(
    ("writer", "name"),
    [(write_text, "レポート.txt"), (write_markdown, "report.md"), (write_dicom_sr, "report.dcm")],
    ids=["text", "markdown", "sr"],
)
def test_full_disk_keeps_the_old_file_and_says_why(full_disk, tmp_path: Path, writer, name):
    target = tmp_path / name
    target.write_bytes(OLD)
    with pytest.raises(ReportExportError) as info:
        writer(make_doc(), target)
    _assert_full_disk_message(info.value, target)
    assert target.read_bytes() == OLD
    assert _only(tmp_path) == [name]


@needs_dev_full
def test_large_sr_on_a_full_disk_has_no_traceback(full_disk, tmp_path: Path):
    """A report longer than the write buffer fails inside pydicom's element writer too."""
    target = tmp_path / "長いレポート.dcm"
    target.write_bytes(OLD)
    with pytest.raises(ReportExportError) as info:
        write_dicom_sr(make_doc(findings="右下肺野に浸潤影を認める。\n" * 2000), target)
    _assert_full_disk_message(info.value, target)
    assert target.read_bytes() == OLD


@needs_dev_full
def test_pydicoms_rewrapped_enospc_becomes_one_line(tmp_path: Path):
    """pydicom re-raises a failed write as OSError("With tag ... got exception: ...\\n
    Traceback ...") without an errno; the message shown is still the disk's reason."""
    sr = build_dicom_sr(make_doc(findings="所見" * 20000))
    handle = open(DEV_FULL, "wb")  # noqa: SIM115
    try:
        with pytest.raises(OSError) as info:
            sr.save_as(handle, enforce_file_format=True)
    finally:
        with contextlib.suppress(OSError):
            handle.close()  # what is still buffered fails again
    assert info.value.errno is None and "Traceback" in str(info.value)
    error = os_error(tmp_path / "r.dcm", info.value)
    assert "ディスクの空き容量が不足しています" in error.message_ja
    assert "Traceback" not in str(error)


def test_an_unexpected_library_error_is_one_line_naming_the_file(tmp_path: Path):
    target = tmp_path / "report.txt"
    target.write_bytes(OLD)

    def write(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise ValueError('bad value\nTraceback (most recent call last):\n  File "x.py"')

    with pytest.raises(ReportExportError) as info:
        atomic_write(target, write)
    assert str(target) in info.value.message_ja and str(target) in info.value.message_en
    assert "ValueError: bad value" in info.value.message_en
    assert "Traceback" not in str(info.value)
    assert target.read_bytes() == OLD
    assert _only(tmp_path) == ["report.txt"]


def test_text_that_reads_back_different_is_not_put_in_place(tmp_path: Path):
    """The write "succeeds" but the file holds less (a writer that ignores a failed write)."""
    target = tmp_path / "report.txt"
    target.write_bytes(OLD)

    def short_write(temp: Path) -> None:
        temp.write_bytes(b"half of the rep")

    with pytest.raises(ReportExportError) as info:
        atomic_write(target, short_write, verify=_atomic.same_bytes(b"half of the report"))
    assert "不完全" in info.value.message_ja and "the disk may be full" in info.value.message_en
    assert str(target) in info.value.message_en
    assert target.read_bytes() == OLD
    assert _only(tmp_path) == ["report.txt"]


# --- DICOM SR read back ----------------------------------------------------------------------


def test_sr_is_read_back_with_its_sop_instance_uid(tmp_path: Path):
    path = write_dicom_sr(make_doc(), tmp_path / "report.dcm")
    uid = str(pydicom.dcmread(path).SOPInstanceUID)
    same_instance(uid)(path)  # the file that was put in place passes its own check
    with pytest.raises(IncompleteFileError, match="SOP Instance UID"):
        same_instance("1.2.3.4")(path)
    data = path.read_bytes()
    for cut in (len(data) - 7, len(data) // 2, 200):
        truncated = tmp_path / f"cut-{cut}.dcm"
        truncated.write_bytes(data[:cut])
        with pytest.raises(IncompleteFileError) as info:
            same_instance(uid)(truncated)
        assert "Traceback" not in str(info.value)


# --- PDF: Qt's writer does not report a full disk -----------------------------------------------


@pytest.fixture(scope="module")
def real_pdf(qapp, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from jradi_desktop.ui.pdf_export import write_pdf

    return write_pdf(make_doc(), tmp_path_factory.mktemp("pdf") / "report.pdf").read_bytes()


@pytest.mark.gui
def test_pdf_verifier_accepts_the_real_pdf_and_rejects_cut_copies(real_pdf: bytes, tmp_path):
    from jradi_desktop.ui.pdf_export import verify_pdf

    path = tmp_path / "copy.pdf"
    path.write_bytes(real_pdf + b"\r\n  \n")  # trailing whitespace after %%EOF is allowed
    verify_pdf(path)
    size = len(real_pdf)
    for cut in (size - 2, size - 30, size // 2, 64, 5):
        path.write_bytes(real_pdf[:cut])
        with pytest.raises(IncompleteFileError, match=r"%PDF-|%%EOF") as info:
            verify_pdf(path)
        assert "the disk may be full" in info.value.message_en
    # the end is there but a block in the middle never reached the disk (zeros)
    path.write_bytes(real_pdf[:4000] + bytes(8192) + real_pdf[12192:])
    with pytest.raises(IncompleteFileError, match="recorded offset"):
        verify_pdf(path)
    # the end says the cross-reference table is where the file has something else
    start = real_pdf.rindex(b"startxref")
    path.write_bytes(real_pdf[:start] + b"startxref\n12\n%%EOF\n")
    with pytest.raises(IncompleteFileError, match="cross-reference"):
        verify_pdf(path)


@pytest.mark.gui
@pytest.mark.parametrize("keep", [0.5, 0.99], ids=["half", "all-but-the-end"])
def test_pdf_cut_short_by_a_full_disk_keeps_the_old_pdf(
    real_pdf: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: float
):
    """QPdfWriter "succeeds" on a full disk and leaves a truncated file: not put in place."""
    from jradi_desktop.ui import pdf_export

    real_render = pdf_export._render

    def render_on_a_full_disk(doc, target: Path, family: str) -> None:
        real_render(doc, target, family)
        with open(target, "rb+") as handle:  # what reached the disk before it filled up
            handle.truncate(int(os.path.getsize(target) * keep))

    monkeypatch.setattr(pdf_export, "_render", render_on_a_full_disk)
    target = tmp_path / "レポート.pdf"
    target.write_bytes(real_pdf)
    with pytest.raises(ReportExportError) as info:
        pdf_export.write_pdf(make_doc(findings="新しい所見"), target)
    error = info.value
    assert str(target) in error.message_ja and str(target) in error.message_en
    assert "%%EOF" in error.message_en and "the disk may be full" in error.message_en
    assert "ディスクの空き容量が不足している可能性があります" in error.message_ja
    assert "元のファイルは変更していません" in error.message_ja
    assert "Traceback" not in str(error)
    assert target.read_bytes() == real_pdf
    assert _only(tmp_path) == ["レポート.pdf"]


# --- what the clinician sees --------------------------------------------------------------------


@needs_dev_full
@pytest.mark.gui
@pytest.mark.parametrize("fmt", ["sr", "txt"])
def test_export_dialog_shows_the_reason_not_a_traceback(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_disk, fmt: str
):
    from main_window_factory import make_window
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    window = make_window(tmp_path)
    qtbot.addWidget(window)
    target = tmp_path / f"報告.{'dcm' if fmt == 'sr' else 'txt'}"
    target.write_bytes(OLD)
    shown: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    window.report.restore_draft({"findings": "右下肺野に浸潤影", "impression": "肺炎疑い"})
    window.session.export_dialog(fmt)
    assert len(shown) == 1
    assert str(target) in shown[0] and "ディスクの空き容量が不足しています" in shown[0]
    assert "Traceback" not in shown[0]
    assert target.read_bytes() == OLD
    window.close()
