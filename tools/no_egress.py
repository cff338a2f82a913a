"""Run a command under ``strace -f`` and fail if anything in it reaches for the network or
writes into the user's home folder outside JRadi's data folder.

    python tools/no_egress.py [--keep] -- COMMAND [ARGS...]

The command runs with ``HOME`` set to a new empty folder (and the XDG folders unset, so every
library's default lies under it). It fails (exit 1, each finding on a line) on:

- a ``connect``/``sendto``/``sendmsg`` to an IPv4/IPv6 address outside loopback (a DNS
  lookup to the machine's resolver included), or to any other family than AF_UNIX and
  AF_NETLINK, by any process or native thread of the command;
- any file left under that ``HOME`` outside ``.local/share/JRadi`` (the data folder).

A Python-level socket guard sees neither native threads (ONNX Runtime's telemetry) nor child
processes; the kernel's view does. Used by ``tests/test_no_egress.py`` and by CI on the
installed ``.deb``. Exit status: 0 clean, 1 findings, 2 the command itself failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DATA_FOLDER = Path(".local/share/JRadi")  # platformdirs' user_data_dir("JRadi") on Linux
SYSCALLS = "connect,sendto,sendmsg,sendmmsg"
_CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<call>connect|sendto|sendmsg|sendmmsg)\((?P<args>.*)$")
_FAMILY = re.compile(r"sa_family=(AF_\w+)")
_V4 = re.compile(r'inet_addr\("([\d.]+)"\)')
_V6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_LOCAL_FAMILIES = {"AF_UNIX", "AF_LOCAL", "AF_NETLINK"}


def network_findings(trace: str) -> list[str]:
    """The calls in an ``strace -f`` log that send to somewhere other than this machine."""
    findings = []
    for line in trace.splitlines():
        match = _CALL.match(line)
        if not match:
            continue
        args = match.group("args")
        family = _FAMILY.search(args)
        if family is None:
            continue  # a connected socket's send: its connect was checked
        name = family.group(1)
        if name in _LOCAL_FAMILIES:
            continue
        address = None
        if name == "AF_INET" and (v4 := _V4.search(args)):
            address = v4.group(1)
            if address.startswith("127."):
                continue
        elif name == "AF_INET6" and (v6 := _V6.search(args)):
            address = v6.group(1)
            if address in ("::1", "::ffff:127.0.0.1"):
                continue
        port = _PORT.search(args)
        where = f"{address}:{port.group(1)}" if address and port else (address or name)
        dns = " (a DNS lookup)" if port and port.group(1) == "53" else ""
        findings.append(f"pid {match.group('pid')} {match.group('call')} to {where}{dns}")
    return findings


def home_findings(home: Path) -> list[str]:
    """Files under ``home`` outside the data folder."""
    allowed = home / DATA_FOLDER
    return [
        f"wrote {path.relative_to(home)}"
        for path in sorted(home.rglob("*"))
        if not path.is_dir() and allowed not in path.parents
    ]


def run(command: list[str], *, keep: bool = False) -> tuple[int, list[str], str]:
    """Run ``command`` traced, with a fresh ``HOME``; (its exit code, findings, its output)."""
    strace = shutil.which("strace")
    if strace is None:
        raise SystemExit("no_egress: strace is needed (Debian: apt-get install strace)")
    root = Path(tempfile.mkdtemp(prefix="jradi-no-egress-"))
    home, trace_file = root / "home", root / "strace.log"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.pop("JRADI_DATA_DIR", None)
    env["HOME"] = str(home)
    try:
        done = subprocess.run(
            [strace, "-f", "-qq", "-s", "64", "-e", f"trace={SYSCALLS}", "-e", "signal=none",
             "-o", str(trace_file), *command],
            env=env, capture_output=True, text=True, errors="replace", check=False,
        )  # fmt: skip
        trace = trace_file.read_text(errors="replace") if trace_file.exists() else ""
        findings = network_findings(trace) + home_findings(home)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return done.returncode, findings, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary HOME and log")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    code, findings, output = run(command, keep=args.keep)
    print(output, end="")
    for finding in findings:
        print(f"no_egress: {finding}", file=sys.stderr)
    if code != 0:
        print(f"no_egress: the command exited with {code}", file=sys.stderr)
        return 2
    if findings:
        return 1
    print(f"no_egress: clean ({' '.join(command[:2])}…: no network, nothing under HOME)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
