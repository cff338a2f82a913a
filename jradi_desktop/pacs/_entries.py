"""The user's PACS entries, stored as ``pacs.json`` in the data folder.

Like the model registry, every change is a read-modify-write under an exclusive lock on
``pacs.json.lock``: re-read the file, apply the one change, write a temporary file in the same
folder, fsync it and ``os.replace`` it over the old one, so readers never see a half file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.file_lock import locked
from jradi_desktop.list_file import read_list_file
from jradi_desktop.pacs._errors import PacsEntryError

LOCK_TIMEOUT_S = 60.0
DEFAULT_OUR_AET = "JRADI"
DEFAULT_TIMEOUT_S = 30.0


def default_pacs_path() -> Path:
    from jradi_desktop.data_folder import data_folder

    return data_folder() / "pacs.json"


def _check_aet(what: str, value: str) -> None:
    """PS3.5 AE: 1-16 characters of the default repertoire, no backslash, not all spaces."""
    if (
        not value.strip()
        or len(value) > 16
        or any(not (32 <= ord(c) < 127) or c == "\\" for c in value)
    ):
        raise PacsEntryError(
            f"{what} {value!r} は AE タイトルとして使えません（半角英数字など 1〜16 文字、"
            "バックスラッシュ不可）。",
            f"{what} {value!r} is not a valid AE title (1 to 16 ASCII characters, no backslash).",
        )


@dataclass
class PacsEntry:
    """One PACS: where it listens, its AE title and ours, optional TLS, the timeout."""

    name: str
    host: str
    port: int
    aet: str
    our_aet: str = DEFAULT_OUR_AET
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    # None: retrieve by C-GET; a port: by C-MOVE to our own storage SCP listening there (for a
    # PACS without C-GET; its administrator registers our AE title, host and this port).
    move_port: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise PacsEntryError("PACS の名前が空です。", "the PACS name is empty.")
        if not self.host.strip():
            raise PacsEntryError(
                f"PACS {self.name!r}: ホストが空です。", f"PACS {self.name!r}: the host is empty."
            )
        if (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not (0 < self.port < 65536)
        ):
            raise PacsEntryError(
                f"PACS {self.name!r}: ポート {self.port!r} は 1〜65535 で指定してください。",
                f"PACS {self.name!r}: port {self.port!r} must be 1 to 65535.",
            )
        _check_aet("PACS の AE タイトル / the PACS's AE title", self.aet)
        _check_aet("自分の AE タイトル / our AE title", self.our_aet)
        if not (0 < float(self.timeout) <= 3600):
            raise PacsEntryError(
                f"PACS {self.name!r}: タイムアウト {self.timeout} 秒は 0 より大きく 3600 以下で"
                "指定してください。",
                f"PACS {self.name!r}: timeout {self.timeout} s must be above 0 and at most 3600.",
            )
        self.timeout = float(self.timeout)
        if self.move_port is not None and (
            isinstance(self.move_port, bool)
            or not isinstance(self.move_port, int)
            or not (0 < self.move_port < 65536)
        ):
            raise PacsEntryError(
                f"PACS {self.name!r}: C-MOVE の受信ポート {self.move_port!r} は 1〜65535 で"
                "指定してください。",
                f"PACS {self.name!r}: the C-MOVE listening port {self.move_port!r} must be 1 to "
                "65535.",
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise PacsEntryError(
                f"PACS {self.name!r}: TLS のクライアント証明書と秘密鍵は両方指定してください"
                "（--tls-cert と --tls-key）。",
                f"PACS {self.name!r}: give the TLS client certificate and its key together "
                "(--tls-cert and --tls-key).",
            )
        if self.tls_cert is not None and self.tls_ca is None:
            raise PacsEntryError(
                f"PACS {self.name!r}: TLS には PACS の証明書を確かめる CA ファイル（--tls-ca）が"
                "必要です。",
                f"PACS {self.name!r}: TLS needs the CA file that signs the PACS's certificate "
                "(--tls-ca).",
            )

    @property
    def uses_tls(self) -> bool:
        return self.tls_ca is not None

    @property
    def retrieve_method(self) -> str:
        """``C-GET``, or ``C-MOVE :PORT`` (to our storage SCP on that port)."""
        return "C-GET" if self.move_port is None else f"C-MOVE :{self.move_port}"

    @property
    def address(self) -> str:
        """``name (AET@host:port)`` for messages."""
        return f"{self.name} ({self.aet}@{self.host}:{self.port})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PacsEntry:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise KeyError(f"unknown keys {unknown}")
        return cls(**data)


def _read(path: Path) -> dict[str, PacsEntry]:
    _, entries = read_list_file(path, "pacs", PacsEntry.from_json, PacsEntryError,
                                ("PACS 一覧", "the PACS list"), '{"pacs": […]}')  # fmt: skip
    return {entry.name: entry for entry in entries}


def _write(path: Path, entries: dict[str, PacsEntry]) -> None:
    data = {"pacs": [entries[name].to_json() for name in sorted(entries)]}
    replace_atomically(path, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


def _held_too_long(lock_path: Path) -> PacsEntryError:
    return PacsEntryError(
        f"{lock_path}: 別のプログラムが PACS 一覧を {LOCK_TIMEOUT_S:.0f} 秒以上"
        "ロックしています。終了してからやり直してください。",
        f"{lock_path}: another program has held the PACS list's lock for over "
        f"{LOCK_TIMEOUT_S:.0f} s; close it and try again.",
    )


class PacsRegistry:
    """Named PACS entries in ``pacs.json``. Every change is a locked read-modify-write."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_pacs_path()

    def names(self) -> list[str]:
        return sorted(_read(self.path))

    def get(self, name: str) -> PacsEntry:
        return self._get(_read(self.path), name)

    def _get(self, entries: dict[str, PacsEntry], name: str) -> PacsEntry:
        if name not in entries:
            known = ", ".join(sorted(entries)) or "（なし / none）"
            raise PacsEntryError(
                f"PACS {name!r} は登録されていません。登録済み: {known}",
                f"PACS {name!r} is not registered. Registered: {known}",
            )
        return entries[name]

    def _change(self, apply: Callable[[dict[str, PacsEntry]], None]) -> None:
        with locked(self.path, LOCK_TIMEOUT_S, _held_too_long):
            entries = _read(self.path)
            apply(entries)
            _write(self.path, entries)

    def add(self, entry: PacsEntry, replace: bool = False) -> None:
        """Store ``entry``; a name already registered is refused unless ``replace``."""

        def apply(entries: dict[str, PacsEntry]) -> None:
            existing = entries.get(entry.name)
            if existing is not None and not replace:
                raise PacsEntryError(
                    f"{self.path}: PACS 名 {entry.name!r} は既に登録されています"
                    f"（{existing.address}）。別の名前にするか --replace を指定してください。",
                    f"{self.path}: a PACS named {entry.name!r} is already registered "
                    f"({existing.address}); choose another name or use --replace.",
                )
            entries[entry.name] = entry

        self._change(apply)

    def remove(self, name: str) -> None:
        def apply(entries: dict[str, PacsEntry]) -> None:
            self._get(entries, name)
            del entries[name]

        self._change(apply)
