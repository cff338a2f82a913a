import hashlib
import multiprocessing
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jradi_desktop.store import Database, History
from jradi_desktop.store._db import SCHEMA


@pytest.fixture
def history(tmp_path):
    return History(Database(tmp_path / "history.sqlite3"))


def test_report_keeps_generated_and_edited_text_and_hashes(history, tmp_path):
    image = tmp_path / "胸部.dcm"
    image.write_bytes(b"DICM" * 100)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" * 10)
    report_id = history.add_report(
        image_path=image, model_name="demo", model_path=model, prompt="所見を書いて",
        indication="発熱", generated_text="所見：右下肺野に浸潤影。", seconds=1.5,
    )  # fmt: skip
    history.update_final_text(report_id, "所見：右下肺野に浸潤影を認めます。\n印象：肺炎疑い。")
    record = history.report(report_id)
    assert record.generated_text == "所見：右下肺野に浸潤影。"
    assert record.final_text.endswith("肺炎疑い。")
    assert record.image_sha256 == hashlib.sha256(image.read_bytes()).hexdigest()
    assert record.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert record.created_at <= record.updated_at


def test_search_matches_japanese_substrings_and_escapes_wildcards(history, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"x")
    for text in ("右下肺野に浸潤影", "心拡大 100%", "異常なし"):
        history.add_report(image_path=image, model_name="m", model_path=None, prompt="p",
                           generated_text=text)  # fmt: skip
    assert [r.generated_text for r in history.search_reports("浸潤")] == ["右下肺野に浸潤影"]
    assert [r.generated_text for r in history.search_reports("100%")] == ["心拡大 100%"]
    assert history.search_reports("心_大") == []  # "_" is literal, not a wildcard
    assert len(history.search_reports("")) == 3


def test_chats_keep_history_in_order_and_are_searchable(history):
    chat = history.new_chat("肺炎の治療")
    history.add_message(chat, "user", "市中肺炎の第一選択は？")
    history.add_message(chat, "assistant", "一般的には…")
    history.replace_last_message(chat, "assistant", "再生成された回答")
    other = history.new_chat("別の会話")
    assert [m.content for m in history.messages(chat)] == [
        "市中肺炎の第一選択は？",
        "再生成された回答",
    ]
    assert [c[0] for c in history.chats("市中肺炎")] == [chat]
    assert {c[0] for c in history.chats()} == {chat, other}
    history.delete_chat(chat)
    assert history.messages(chat) == []


def test_draft_survives_kill_9(tmp_path):
    db_path = tmp_path / "history.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from jradi_desktop.store import Database, History
        history = History(Database(Path({str(db_path)!r})))
        history.save_draft("report:1", {{"findings": "右肺に結節影", "impression": "要精査"}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -9
    drafts = History(Database(db_path)).drafts()
    assert drafts == {"report:1": {"findings": "右肺に結節影", "impression": "要精査"}}


def test_discarded_draft_is_gone(history):
    history.save_draft("k", {"a": 1})
    history.discard_draft("k")
    assert history.drafts() == {}


def _open_at_once(path: str, barrier, results) -> None:
    """One app instance: wait for the others, then open (and create) the store."""
    try:
        barrier.wait(timeout=60)
        history = History(Database(Path(path)))
        chat = history.new_chat("同時起動")
        history.add_message(chat, "user", "こんにちは")
        version = history.db.connection().execute("PRAGMA user_version").fetchone()[0]
        results.put(("ok", version))
    except Exception as error:  # reported to the parent, which fails the test with it
        results.put(("error", repr(error)))


@pytest.mark.parametrize("processes", [4, 8])
def test_many_processes_open_a_fresh_store_at_the_same_moment(tmp_path, processes):
    """Two .dcm files double-clicked together start two app instances on a fresh folder."""
    context = multiprocessing.get_context("spawn")
    for round_ in range(4):
        path = tmp_path / f"round{round_}" / "history.sqlite3"
        barrier, results = context.Barrier(processes), context.Queue()
        workers = [
            context.Process(target=_open_at_once, args=(str(path), barrier, results))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == [("ok", len(SCHEMA))] * processes, f"round {round_}: {outcomes}"
        history = History(Database(path))
        assert len(history.chats()) == processes
        image = tmp_path / "a.png"
        image.write_bytes(b"x")
        report = history.add_report(image_path=image, model_name="m", model_path=None,
                                    prompt="p", generated_text="異常なし")  # fmt: skip
        assert history.report(report).final_text == "異常なし"
        history.db.close()


def test_half_migrated_file_is_completed_not_refused(tmp_path):
    """An older version could commit the tables and die before setting user_version."""
    path = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(path)
    first_table = SCHEMA[0].split(";")[0].replace(" IF NOT EXISTS", "")
    conn.execute(first_table)  # the old executescript committed statement by statement
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.connection().execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)
    assert db.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    History(db).save_draft("k", {"a": 1})
    assert History(db).drafts() == {"k": {"a": 1}}
