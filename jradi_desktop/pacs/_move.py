"""C-MOVE of one study to our own storage SCP, for a PACS that does not offer C-GET.

The PACS opens a second association to us (the move destination: our AE title, which its
administrator must have registered with our host and port) and C-STOREs each instance. We
listen only while the request runs, on the local address the route to the PACS leaves from.
For a DICOM TLS entry our storage SCP listens with TLS too (our certificate; the PACS's
required, signed by the entry's CA).
"""

from __future__ import annotations

import os
import socket
import threading

from jradi_desktop.pacs._association import associate, make_ae, server_tls_context
from jradi_desktop.pacs._entries import PacsEntry
from jradi_desktop.pacs._errors import PacsConnectionError, PacsRequestError
from jradi_desktop.pacs._get import (
    IMAGE_SOP_CLASSES,
    IMAGE_TRANSFER_SYNTAXES,
    SR_SOP_CLASSES,
    GetResult,
    ProgressCallback,
    Retrieve,
    check_result,
    follow,
)
from jradi_desktop.pacs._services import UNCOMPRESSED

MOVE_DESTINATION_UNKNOWN = 0xA801
DEFAULT_MOVE_PORT = 11112  # a common storage SCP port (PS3.8: 11112 is DICOM's registered one)


def listen_address(host: str) -> str:
    """The local address the route to ``host`` leaves from (no packet is sent), else all."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "0.0.0.0"


def move_study(
    entry: PacsEntry,
    study_uid: str,
    out_dir: str | os.PathLike[str],
    listen_port: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> GetResult:
    """C-MOVE ``study_uid`` to us (``entry.our_aet``) listening on ``listen_port``.

    Files, progress, cancel and failures as :func:`~jradi_desktop.pacs.get_study`.
    """
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MoveModel

    r = Retrieve.start(study_uid, out_dir, cancel)
    if r.result.cancelled:
        return r.result
    scp = make_ae(entry)
    for sop in IMAGE_SOP_CLASSES:
        scp.add_supported_context(sop, list(IMAGE_TRANSFER_SYNTAXES))
    for sop in SR_SOP_CLASSES:
        scp.add_supported_context(sop, list(UNCOMPRESSED))
    host = listen_address(entry.host)
    tls = server_tls_context(entry)
    try:
        server = scp.start_server(
            (host, listen_port), block=False, evt_handlers=[(evt.EVT_C_STORE, r.receiver)],
            ssl_context=tls,
        )  # fmt: skip
    except OSError as exc:
        raise PacsConnectionError(
            f"PACS {entry.address}: C-MOVE の受信用ポート {host}:{listen_port} を開けません"
            f"（{exc.strerror or exc}）。別のポートを指定してください（「PACS の設定」の受信"
            "ポート、または --listen-port）。",
            f"PACS {entry.address}: cannot listen on {host}:{listen_port} for the C-MOVE "
            f"({exc.strerror or exc}); choose another port (the receiving port in PACS "
            "settings, or --listen-port).",
        ) from exc
    try:
        with associate(entry, [(MoveModel, UNCOMPRESSED)], step="C-MOVE") as assoc:
            responses = assoc.send_c_move(r.query, entry.our_aet, MoveModel, msg_id=1)
            follow(entry, assoc, responses, MoveModel, "C-MOVE", r.result, progress, cancel)
    finally:
        server.shutdown()
    if r.result.status == MOVE_DESTINATION_UNKNOWN:
        raise PacsRequestError(
            f"PACS {entry.address}: 移動先 {entry.our_aet} を PACS が知りません（C-MOVE）。"
            f"PACS の管理者に、AE タイトル {entry.our_aet}・ホスト {host}・ポート {listen_port} "
            "を移動先として登録してもらってください。",
            f"PACS {entry.address}: the PACS does not know the move destination "
            f"{entry.our_aet} (C-MOVE); ask its administrator to register AE title "
            f"{entry.our_aet}, host {host}, port {listen_port} as a destination.",
        )
    return check_result(entry, study_uid, r.out, r.result, r.receiver, "C-MOVE")
