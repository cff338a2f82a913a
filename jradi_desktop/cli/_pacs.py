"""``jradi pacs``: the hospital PACS from the command line (entries, C-ECHO, C-FIND, C-GET or
C-MOVE, C-STORE). Failures are one line, Japanese first: scripts grep it, people read it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jradi_desktop.pacs import DEFAULT_MOVE_PORT


def _pacs_add(args: argparse.Namespace, registry: object) -> None:
    from jradi_desktop.pacs import PacsEntry

    tls = (args.tls_ca, args.tls_cert, args.tls_key)
    tls_ca, tls_cert, tls_key = (str(Path(f).expanduser().resolve()) if f else None for f in tls)
    entry = PacsEntry(
        name=args.name, host=args.host, port=args.port, aet=args.aet, our_aet=args.our_aet,
        tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key, timeout=args.timeout,
        move_port=args.move_port,
    )  # fmt: skip
    registry.add(entry, replace=args.replace)
    print(f"{entry.address}: 登録しました / registered")


def _pacs_get(args: argparse.Namespace, entry: object) -> int:
    from jradi_desktop.pacs import get_study, move_study

    def progress(done: int, total: int) -> None:
        print(f"\r受信中 / receiving {done}/{total}\033[K", end="", file=sys.stderr, flush=True)

    # C-MOVE to our own storage SCP (a PACS without C-GET): asked here, or the entry's way.
    port = args.listen_port or entry.move_port or DEFAULT_MOVE_PORT
    if args.move or args.listen_port is not None or entry.move_port is not None:
        result = move_study(entry, args.study_uid, Path(args.out), port, progress=progress)
    else:
        result = get_study(entry, args.study_uid, Path(args.out), progress=progress)
    print("\r\033[K", end="", file=sys.stderr, flush=True)
    for path in result.files:
        print(path)
    if result.failed:
        print(f"jradi pacs get: {result.failed} 件の画像を受け取れませんでした / {result.failed} "
              "instance(s) failed to arrive", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _pacs_find(args: argparse.Namespace, entry: object) -> int:
    from jradi_desktop.pacs import find_studies

    modalities = [m.strip() for m in args.modality.split(",") if m.strip()]
    studies = find_studies(
        entry, patient_id=args.patient_id, accession=args.accession, date=args.date,
        modalities=modalities,
    )  # fmt: skip
    for study in studies:
        if args.json:
            print(json.dumps(study.to_json(), ensure_ascii=False), flush=True)
        else:
            print("\t".join((study.study_uid, study.patient_id, study.patient_name,
                             study.study_date, study.accession, "\\".join(study.modalities),
                             str(study.instances or ""))))  # fmt: skip
    return 0


def _pacs_send(args: argparse.Namespace, entry: object) -> int:
    from jradi_desktop.pacs import send

    results = send(entry, args.files)
    for result in results:
        if result.ok:
            print(result.message_en)
        else:
            print(f"jradi pacs send: {result.message_ja} / {result.message_en}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


def _cmd_pacs(args: argparse.Namespace) -> int:
    from jradi_desktop.pacs import PacsError

    try:
        return _pacs_action(args)
    except PacsError as exc:  # one line, Japanese first: scripts grep it, people read it
        print(f"jradi pacs {args.action}: {exc.message_ja} / {exc.message_en}", file=sys.stderr)
        return 1


def _pacs_action(args: argparse.Namespace) -> int:
    from jradi_desktop.pacs import PacsRegistry, echo

    registry = PacsRegistry()
    if args.action == "add":
        _pacs_add(args, registry)
        return 0
    if args.action == "list":
        for name in registry.names():
            entry = registry.get(name)
            tls = "TLS" if entry.uses_tls else "-"
            print(f"{name}\t{entry.host}:{entry.port}\t{entry.aet}\t{entry.our_aet}\t{tls}\t"
                  f"{entry.timeout:g} s\t{entry.retrieve_method}")  # fmt: skip
        return 0
    if args.action == "remove":
        registry.remove(args.name)
        return 0
    entry = registry.get(args.name)
    if args.action == "echo":
        echo(entry)
        print(f"{entry.address}: 接続できました / reachable (C-ECHO OK)")
        return 0
    runs = {"find": _pacs_find, "get": _pacs_get, "send": _pacs_send}
    return runs[args.action](args, entry)


def pacs_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pacs", help="the hospital PACS over DICOM (DIMSE)")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    add = actions.add_parser("add", help="register a PACS (its DICOM host, port and AE title)")
    add.add_argument("name")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, required=True)
    add.add_argument("--aet", required=True, help="the PACS's AE title")
    add.add_argument("--our-aet", default="JRADI", help="our AE title (default: JRADI)")
    add.add_argument("--tls-ca", metavar="FILE", help="CA certificate(s) that sign the PACS's")
    add.add_argument("--tls-cert", metavar="FILE", help="our client certificate (with --tls-key)")
    add.add_argument("--tls-key", metavar="FILE", help="our client certificate's private key")
    add.add_argument("--timeout", type=float, default=30.0, metavar="S",
                     help="seconds to wait for the PACS at each step (default: 30)")  # fmt: skip
    add.add_argument("--move-port", type=int, metavar="P",
                     help="retrieve by C-MOVE to our storage SCP listening on port P, for a PACS "
                     "without C-GET (it must know our AE title with this host and P)")  # fmt: skip
    add.add_argument("--replace", action="store_true", help="replace an entry of that name")
    for action in ("remove", "echo"):
        actions.add_parser(action).add_argument("name")
    find = actions.add_parser("find", help="search studies (C-FIND, study level)")
    find.add_argument("name")
    find.add_argument("--patient-id")
    find.add_argument("--accession")
    find.add_argument("--date", help="YYYYMMDD or YYYYMMDD-YYYYMMDD")
    find.add_argument("--modality", default="CR,DX", help="comma-separated; '' for any (CR,DX)")
    find.add_argument("--json", action="store_true", help="one JSON object per study")
    get = actions.add_parser("get", help="retrieve a study (C-GET) as <SOPInstanceUID>.dcm files")
    get.add_argument("name")
    get.add_argument("study_uid")
    get.add_argument("--out", required=True, help="folder to write into")
    get.add_argument("--move", action="store_true",
                     help="C-MOVE to our own storage SCP instead of C-GET (the PACS must know "
                     "our AE title with this host and --listen-port); the default for an entry "
                     "added with --move-port")  # fmt: skip
    get.add_argument(
        "--listen-port", type=int, metavar="P",
        help="port our storage SCP listens on for the C-MOVE (implies --move; default: the "
        f"entry's --move-port, else {DEFAULT_MOVE_PORT})",
    )  # fmt: skip
    send = actions.add_parser("send", help="store DICOM files (e.g. a report's SR) on the PACS")
    send.add_argument("name")
    send.add_argument("files", nargs="+")
    p.set_defaults(run=_cmd_pacs)
