"""One association with a PACS, with bounded timeouts and a clear reason when it fails.

pynetdicom reports why an association failed only in its log (a refused TCP connection, a
TLS handshake error) or in the A-ASSOCIATE-RJ primitive (a rejection); :func:`associate`
collects both and raises :class:`PacsConnectionError` with the PACS and the reason.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._errors import PacsConnectionError, PacsEntryError

_LOG_LOCK = threading.Lock()


class _Collect(logging.Handler):
    """pynetdicom's error lines during one association attempt (for the reason)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _collected() -> Iterator[_Collect]:
    logger = logging.getLogger("pynetdicom")
    handler = _Collect()
    with _LOG_LOCK:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        with _LOG_LOCK:
            logger.removeHandler(handler)


def tls_context(entry: PacsEntry) -> ssl.SSLContext | None:
    """The client TLS context of ``entry`` (None without TLS); a missing file is named."""
    if not entry.uses_tls:
        return None
    return _context(entry, ssl.Purpose.SERVER_AUTH)


def server_tls_context(entry: PacsEntry) -> ssl.SSLContext | None:
    """The TLS context our C-MOVE storage SCP listens with (None when ``entry`` is plain
    DICOM): our certificate, and the PACS's own certificate required, signed by the entry's
    CA (mutual TLS, as a TLS PACS asks of us)."""
    if not entry.uses_tls:
        return None
    if entry.tls_cert is None:
        raise PacsEntryError(
            f"PACS {entry.address}: DICOM TLS の C-MOVE では PACS がこちらへ接続してくるため、"
            "自分の証明書と秘密鍵（--tls-cert と --tls-key）が必要です。",
            f"PACS {entry.address}: a C-MOVE over DICOM TLS needs our certificate and key "
            "(--tls-cert and --tls-key): the PACS connects to us.",
        )
    context = _context(entry, ssl.Purpose.CLIENT_AUTH)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _context(entry: PacsEntry, purpose: ssl.Purpose) -> ssl.SSLContext:
    for what, name in (("CA", entry.tls_ca), ("cert", entry.tls_cert), ("key", entry.tls_key)):
        if name is not None and not Path(name).is_file():
            raise PacsEntryError(
                f"PACS {entry.address}: TLS の {what} ファイル {name} が見つかりません。",
                f"PACS {entry.address}: the TLS {what} file {name} does not exist.",
            )
    try:
        context = ssl.create_default_context(purpose, cafile=entry.tls_ca)
        if entry.tls_cert is not None:
            context.load_cert_chain(entry.tls_cert, entry.tls_key)
    except (ssl.SSLError, OSError) as exc:
        files = ", ".join(n for n in (entry.tls_ca, entry.tls_cert, entry.tls_key) if n)
        raise PacsEntryError(
            f"PACS {entry.address}: TLS の証明書ファイルを読めません（{files}: {exc}）。",
            f"PACS {entry.address}: the TLS files cannot be used ({files}: {exc}).",
        ) from exc
    return context


def _failure(entry: PacsEntry, step: str, assoc: Any, lines: list[str]) -> PacsConnectionError:
    """Why ``assoc`` is not established, in words, from the rejection or the log lines."""
    where = f"{entry.address} [{step}]" if step else entry.address
    if assoc.is_rejected:
        rsp = assoc.acceptor.primitive
        why = f"{rsp.result_str}, {rsp.source_str}: {rsp.reason_str}" if rsp else "rejected"
        return PacsConnectionError(
            f"PACS {where}: 接続（アソシエーション）を拒否されました（{why}）。AE タイトル"
            "（PACS 側と自分の側）が PACS に登録されているか確認してください。",
            f"PACS {where}: the association was rejected ({why}); check that both AE titles "
            "(the PACS's and ours) are configured on the PACS.",
        )
    text = " ".join(lines)
    detail = next((ln.split(": ", 1)[1] for ln in lines if "TCP Initialisation" in ln), text)
    lower = text.lower()
    if "refused" in lower:
        ja, en = (
            "接続を拒否されました（ポートが閉じているか PACS が動いていません）",
            "connection refused (the port is closed or the PACS is not running)",
        )
    elif "ssl" in lower or "certificate" in lower or (entry.uses_tls and "tcp init" in lower):
        ja, en = (  # a plain DICOM port resets the connection at our TLS hello
            "TLS の接続に失敗しました（証明書か、PACS 側が TLS のポートかを確認してください）",
            "the TLS handshake failed (check the certificates and that the PACS's port is TLS)",
        )
    elif "timed out" in lower or "timeout" in lower:
        ja, en = (
            f"{entry.timeout:.0f} 秒以内に応答がありません",
            f"no answer within {entry.timeout:.0f} s",
        )
    elif "no accepted presentation contexts" in lower:
        ja, en = (
            "PACS がこの操作（SOP クラス）を受け付けません",
            "the PACS accepts none of the requested services (SOP classes)",
        )
    else:
        ja, en = "接続できません", "cannot connect"
    detail_ja, detail_en = (f"（{detail}）", f" ({detail})") if detail else ("", "")
    return PacsConnectionError(
        f"PACS {where}: {ja}{detail_ja}。", f"PACS {where}: {en}{detail_en}."
    )


def make_ae(entry: PacsEntry) -> Any:
    """A pynetdicom ``AE`` as ``entry``'s our AE title, every timeout bounded."""
    from pynetdicom import AE

    # pynetdicom logs each request's identifier (patient ID, name) at INFO: keep it out of
    # every log; errors (the reasons collected above) still pass.
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    ae = AE(ae_title=entry.our_aet)
    ae.connection_timeout = entry.timeout
    ae.acse_timeout = entry.timeout
    ae.dimse_timeout = entry.timeout
    ae.network_timeout = entry.timeout
    return ae


@contextlib.contextmanager
def associate(
    entry: PacsEntry,
    contexts: Sequence[tuple[str, Sequence[str]]],
    *,
    roles: Sequence[Any] = (),
    handlers: Sequence[tuple[Any, Any]] = (),
    step: str = "",
) -> Iterator[Any]:
    """An established association with ``entry``, released (or aborted) at the end.

    ``contexts`` are ``(abstract syntax, transfer syntaxes)`` pairs, each proposed as one
    presentation context; ``roles`` SCP/SCU role selections; ``handlers`` pynetdicom event
    handlers; ``step`` (``"C-FIND"``…) is named in the message. Raises
    :class:`PacsConnectionError` with the reason when it cannot be set up.
    """
    ae = make_ae(entry)
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, list(syntaxes))
    tls = tls_context(entry)
    tls_args = (tls, entry.host) if tls is not None else None
    with _collected() as log:
        try:
            assoc = ae.associate(
                entry.host, entry.port, ae_title=entry.aet, ext_neg=list(roles) or None,
                evt_handlers=list(handlers) or None, tls_args=tls_args,
            )  # fmt: skip
        except (OSError, ValueError, RuntimeError) as exc:
            raise PacsConnectionError(
                f"PACS {entry.address} [{step}]: 接続できません（{exc}）。",
                f"PACS {entry.address} [{step}]: cannot connect ({exc}).",
            ) from exc
        if not assoc.is_established:
            raise _failure(entry, step, assoc, log.lines)
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()
    finally:
        ae.shutdown()
