"""Several evolve workers: two sharing one PostgreSQL study, and exports killed or left
running beside each other."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from evolve_helpers import study_trials, write_recipe

# --- PostgreSQL: several workers, one study ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """JRADI_TEST_POSTGRES_URL, or a throwaway server on loopback (initdb + pg_ctl)."""
    url = os.environ.get("JRADI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    if not found[-1]:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set "
            "JRADI_TEST_POSTGRES_URL=postgresql://USER@127.0.0.1:PORT/DB"
        )
    bindir = Path(found[-1]).parent
    as_postgres: list[str] = []
    root = tempfile.mkdtemp(prefix="jradi-pg-")
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres OS user
        try:
            shutil.chown(root, "postgres", "postgres")
        except LookupError:
            pytest.skip("running as root and there is no 'postgres' OS user to run initdb as")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = f"{root}/data", _free_port()
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            data,
            "-l",
            f"{root}/log",
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_share_one_postgres_study(demo_dir, dev_csv, tmp_path, postgres_url):
    n = 8
    name = f"two-workers-{uuid.uuid4().hex[:8]}"
    recipe = write_recipe(tmp_path, demo_dir, dev_csv, heartbeat_interval=1, grace_period=5)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli",
                "evolve",
                str(recipe),
                "--workspace",
                str(tmp_path / f"w{i}"),
                "--storage",
                postgres_url,
                "--study-name",
                name,
                "--n-trials",
                str(n),
                "--no-export",
                "--events",
                "jsonl",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for i in range(2)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        results.append(json.loads(out.splitlines()[-1])["data"])
    trials = study_trials(tmp_path, name, postgres_url)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == n
    assert not [t.number for t in trials if t.state.name in ("RUNNING", "FAIL", "WAITING")]
    surplus = [t for t in trials if t.state.name == "PRUNED"]
    assert all(t.user_attrs.get("surplus") and not t.params for t in surplus)  # never ran
    ran = [set(r["ran"]) for r in results]
    assert not ran[0] & ran[1] and ran[0] | ran[1] == {t.number for t in complete}
    pids = {str(w.pid) for w in workers}
    assert {t.user_attrs["worker"].rsplit(":", 1)[1] for t in complete} <= pids
    assert all(r["complete"] == n and r["best_score"] == results[0]["best_score"] for r in results)


EXPORT_CHILD = """
import os, signal, sys
from pathlib import Path
from engine.evolve import load_evolve_recipe
from engine.evolve._export import iter_export_best
from engine.evolve._settings import ExportSettings
from engine.merge import JRadiEvoParams, MergeContext

recipe = load_evolve_recipe(sys.argv[1])
context = MergeContext.from_folders(recipe.base, [m.path for m in recipe.models])
params = JRadiEvoParams.from_vector([0.5] + [0.2] * 4 + [0.5] * 4 + [1.0])
events = iter_export_best(context, recipe, params, int(sys.argv[4]), 0.5, Path(sys.argv[2]),
                          ExportSettings(gguf=False))
for event in events:
    if event.kind == "progress":  # the staging folder exists: the merge is about to start
        print("exporting", flush=True)
        if sys.argv[3] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        sys.stdin.readline()  # "hold": export in progress until the parent says go on
"""


def _export_child(recipe: Path, ws: Path, mode: str, trial: int = 0) -> subprocess.Popen:
    """A worker exporting ``trial``, killed (``kill``) or paused (``hold``) once it has begun."""
    command = [sys.executable, "-c", EXPORT_CHILD, str(recipe), str(ws), mode, str(trial)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "exporting\n"
    return child


def test_a_killed_export_is_cleaned_up_but_a_running_one_is_not(demo_dir, dev_csv, tmp_path):
    from engine.evolve import iter_evolve
    from engine.evolve._export import remove_stale_exports

    recipe = write_recipe(tmp_path, demo_dir, dev_csv)
    ws = tmp_path / "ws"
    ws.mkdir()
    killed = _export_child(recipe, ws, "kill")
    assert killed.wait(timeout=60) == -signal.SIGKILL
    [stale] = ws.glob(".best.partial-*")  # a whole merged model, left by the kill
    assert stale.name.startswith(f".best.partial-{killed.pid}-")

    running = _export_child(recipe, ws, "hold")  # the next export removes the leftover first
    try:
        [partial] = ws.glob(".best.partial-*")
        assert partial.name.startswith(f".best.partial-{running.pid}-")
        assert remove_stale_exports(ws) == []  # a worker is exporting: its folder is kept
        assert partial.is_dir()
        running.communicate("go on\n", timeout=120)
    finally:
        running.kill()
    assert running.returncode == 0
    assert json.loads((ws / "best" / "best.json").read_text())["trial"] == 0
    assert not list(ws.glob(".best.partial-*"))

    killed = _export_child(recipe, ws, "kill", trial=1)  # a better trial, exported at the end
    assert killed.wait(timeout=60) == -signal.SIGKILL
    assert len(list(ws.glob(".best.partial-*"))) == 1
    events = iter_evolve(recipe, ws)  # a run or resume of the workspace cleans up first
    first = next(events)
    events.close()
    assert first.data["event"] == "stale-exports" and len(first.data["removed"]) == 1
    assert not list(ws.glob(".best.partial-*")) and (ws / "best" / "best.json").is_file()


def test_an_export_killed_between_its_renames_gets_the_previous_best_back(tmp_path):
    from engine.evolve._export import remove_stale_exports

    ws = tmp_path / "ws"
    previous = ws / ".best.old-4242"  # best/ moved aside, the new one not yet in place
    (previous / "model").mkdir(parents=True)
    (previous / "best.json").write_text('{"trial": 3}', encoding="utf-8")
    (ws / ".best.partial-4242-abc" / "model").mkdir(parents=True)
    assert [p.name for p in remove_stale_exports(ws)] == [".best.partial-4242-abc"]
    assert json.loads((ws / "best" / "best.json").read_text()) == {"trial": 3}
    assert sorted(p.name for p in ws.iterdir()) == [".best.lock", "best"]
    assert remove_stale_exports(tmp_path / "no-such-workspace") == []
