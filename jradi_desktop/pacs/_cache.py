"""Retrieved studies, kept in the data folder's ``pacs-cache/`` within a size limit.

Each study is retrieved into a ``.partial-…`` folder and renamed to ``<StudyInstanceUID>/``
only when the retrieve has ended, so a folder under a UID is never half-written: a stopped,
failed or crashed retrieve leaves no study behind. Its ``study.json`` records the PACS it came
from (where the report's SR goes back to) and how many instances failed to arrive (such a
study is retrieved again rather than opened from the cache); its modification time is the
last use, and the least recently used studies are evicted when the folder outgrows the limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._get import (
    SR_SOP_CLASSES,
    GetResult,
    ProgressCallback,
    check_uid,
    get_study,
)
from jradi_desktop.pacs._move import move_study

DEFAULT_CACHE_LIMIT = 2 * 1024**3
STALE_PARTIAL_S = 3600.0  # a partial folder this old belongs to no running retrieve
RECORD = "study.json"
_PARTIAL = ".partial-"


def default_cache_path() -> Path:
    from jradi_desktop.data_folder import data_folder

    return data_folder() / "pacs-cache"


@dataclass(frozen=True)
class CachedStudy:
    """A study in the cache: its folder, its DICOM files, where it came from."""

    folder: Path
    study_uid: str
    pacs: str
    files: tuple[Path, ...]
    failed: int = 0  # instances the PACS could not send
    from_cache: bool = False  # opened without a retrieve

    def split(self) -> tuple[list[Path], list[Path]]:
        """(images, the rest): reports (SR) and unreadable files are not for the viewer."""
        from pydicom.errors import InvalidDicomError
        from pydicom.filereader import read_file_meta_info

        images: list[Path] = []
        others: list[Path] = []
        for path in self.files:
            try:
                sop = str(read_file_meta_info(path).MediaStorageSOPClassUID)
                image = sop not in SR_SOP_CLASSES
            except (OSError, InvalidDicomError, AttributeError, ValueError, EOFError):
                image = False
            (images if image else others).append(path)
        return images, others


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


class StudyCache:
    """The retrieved studies under ``folder`` (default: the data folder's ``pacs-cache``)."""

    def __init__(self, folder: Path | None = None, limit_bytes: int = DEFAULT_CACHE_LIMIT) -> None:
        self.folder = folder or default_cache_path()
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()

    def _read(self, folder: Path, touch: bool) -> CachedStudy | None:
        record = folder / RECORD
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            if touch:
                os.utime(record)
        except (OSError, ValueError):
            return None
        files = tuple(sorted(p for p in folder.glob("*.dcm")))
        return CachedStudy(folder, folder.name, str(data.get("pacs", "")), files,
                           int(data.get("failed", 0)), from_cache=True)  # fmt: skip

    def lookup(self, study_uid: str) -> CachedStudy | None:
        """The complete study ``study_uid`` if cached (its last use set to now), else None."""
        found = self._read(self.folder / check_uid(study_uid), touch=True)
        return found if found is not None and not found.failed and found.files else None

    def origin(self, path: str | os.PathLike[str] | None) -> str | None:
        """The name of the PACS a cached file came from; None for any other file."""
        if path is None:
            return None
        try:
            folder = Path(path).resolve().parent
            inside = folder.parent == self.folder.resolve()
        except OSError:
            return None
        found = self._read(folder, touch=False) if inside else None
        return found.pacs if found is not None and found.pacs else None

    def retrieve(
        self,
        entry: PacsEntry,
        study_uid: str,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        move_port: int | None = None,
    ) -> CachedStudy | None:
        """Retrieve ``study_uid`` from ``entry`` into the cache: C-MOVE to ``move_port`` (by
        default the entry's own), else C-GET; None when cancelled (nothing kept). Errors as
        the retrieve's."""
        check_uid(study_uid)
        if move_port is None:
            move_port = entry.move_port
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{_PARTIAL}{study_uid}-", dir=self.folder))
        try:
            if move_port is None:
                result = get_study(entry, study_uid, partial, progress, cancel)
            else:
                result = move_study(entry, study_uid, partial, move_port, progress, cancel)
            if result.cancelled:
                return None
            self._commit(partial, entry, study_uid, result)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        self.evict(keep=study_uid)
        final = self.folder / study_uid
        files = tuple(sorted(final / p.name for p in result.files))
        return CachedStudy(final, study_uid, entry.name, files, result.failed)

    def _commit(self, partial: Path, entry: PacsEntry, study_uid: str, result: GetResult) -> None:
        """Record where ``partial`` came from and put it in place under its UID, whole."""
        record = {"pacs": entry.name, "failed": result.failed, "retrieved": time.time()}
        (partial / RECORD).write_text(json.dumps(record), encoding="utf-8")
        final = self.folder / study_uid
        with self._lock:
            if final.exists():  # an older copy: moved aside first, so a reader sees one whole
                old = Path(tempfile.mkdtemp(prefix=f"{_PARTIAL}old-", dir=self.folder))
                os.replace(final, old / study_uid)
                os.replace(partial, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(partial, final)

    def _studies(self, clean: bool = False) -> list[tuple[float, int, Path]]:
        """(last use, bytes, folder) of every whole study; ``clean`` also removes partial
        folders left by a crash."""
        if not self.folder.is_dir():
            return []
        studies: list[tuple[float, int, Path]] = []
        now = time.time()
        for child in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if child.name.startswith(_PARTIAL):
                    if clean and now - child.stat().st_mtime > STALE_PARTIAL_S:
                        shutil.rmtree(child, ignore_errors=True)
                elif child.is_dir():
                    used = (child / RECORD).stat().st_mtime
                    studies.append((used, _size(child), child))
        return studies

    def usage(self) -> tuple[int, int]:
        """(studies, bytes) the cache holds now."""
        studies = self._studies()
        return len(studies), sum(size for _, size, _ in studies)

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove the least recently used studies until the cache fits its limit (never
        ``keep``), and partial folders left by a crash; the UIDs removed."""
        with self._lock:  # the UI may lower the limit while a retrieve ends on its thread
            studies = self._studies(clean=True)
            total = sum(size for _, size, _ in studies)
            removed: list[str] = []
            for _, size, child in sorted(studies, key=lambda s: s[0]):
                if total <= self.limit_bytes:
                    break
                if child.name == keep:
                    continue
                shutil.rmtree(child, ignore_errors=True)
                total -= size
                removed.append(child.name)
        return removed
