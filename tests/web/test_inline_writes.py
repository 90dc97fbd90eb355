"""A web write runs on the event loop's thread when the write lock is free, and on the
write thread when another writer holds it; an enqueue from the loop never waits for the
queue file either."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import event, text

from shared.settings import Settings
from web.database import Database
from web.reply_queue import ReplyQueue


def _insert(conn, value: str) -> int:  # noqa: ANN001
    conn.execute(text("INSERT INTO t (value) VALUES (:value)"), {"value": value})
    return threading.get_ident()


async def test_a_write_runs_on_the_loop_when_nobody_else_writes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'chat.db'}")
    try:
        await db.write(lambda conn: conn.execute(text("CREATE TABLE t (value TEXT)")))
        ran_on = await db.write(_insert, "inline")
        assert ran_on == threading.get_ident()
    finally:
        await db.close()


async def test_a_write_waits_on_the_write_thread_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    db = Database(f"sqlite:///{path}")
    try:
        await db.write(lambda conn: conn.execute(text("CREATE TABLE t (value TEXT)")))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (value) VALUES ('other')")
        asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
        ran_on = await db.write(_insert, "after the other")
        other.close()
        assert ran_on != threading.get_ident()
        rows = await db.read(lambda conn: [v for (v,) in conn.execute(text("SELECT value FROM t ORDER BY rowid"))])
        assert rows == ["other", "after the other"]
    finally:
        await db.close()


async def test_an_enqueue_from_the_loop_is_handed_off_while_the_queue_is_locked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    queue = ReplyQueue(settings)
    other = sqlite3.connect(settings.resolved_queue_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    # Were the enqueue to wait for the lock, it would wait for this very thread: the test
    # would hang rather than reach the next line.
    queue.enqueue(41)
    assert _queued(settings) == 0
    other.execute("COMMIT")
    other.close()
    queue.close()  # waits for the handed-off write
    assert _queued(settings) == 1
    queue.enqueue(42)  # free now: written on the loop
    assert _queued(settings) == 2


async def test_an_enqueue_that_fails_on_the_loop_is_noted_not_raised(tmp_path: Path) -> None:
    """The trainee's message is stored and acknowledged before its job is enqueued; a
    queue that fails then must not turn that into an error frame (the sweep enqueues the
    job again, worker/maintenance.py)."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    queue = ReplyQueue(settings)
    other = sqlite3.connect(settings.resolved_queue_path, isolation_level=None)
    other.execute("DROP TABLE task")  # the queue file broken under the web process
    try:
        queue.enqueue(41)
        assert queue.outage.down_since is not None
    finally:
        other.close()
        queue.close()


def _queued(settings: Settings) -> int:
    reader = sqlite3.connect(settings.resolved_queue_path)
    try:
        return reader.execute("SELECT count(*) FROM task").fetchone()[0]
    finally:
        reader.close()


def _insert_or_refuse(conn, value: str) -> str:  # noqa: ANN001
    conn.execute(text("INSERT INTO t (value) VALUES (:value)"), {"value": value})
    if value.startswith("bad"):
        raise ValueError(f"refused {value}")
    return value


def _commits(conn) -> int:  # noqa: ANN001
    return conn.exec_driver_sql("PRAGMA data_version").scalar_one()


async def test_writes_queued_behind_another_writer_commit_together_and_a_failing_one_alone_is_undone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.db"
    db = Database(f"sqlite:///{path}")
    try:
        await db.write(lambda conn: conn.execute(text("CREATE TABLE t (value TEXT)")))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (value) VALUES ('other')")
        committed: list = []
        event.listen(db.engine, "commit", committed.append)
        # The first write takes the write thread and waits for the other writer; the rest
        # queue behind it and go together once it is done.
        values = ["first", "second", "bad-third", "fourth"]
        writes = [asyncio.ensure_future(db.write(_insert_or_refuse, value)) for value in values]
        await asyncio.sleep(0.2)
        other.execute("COMMIT")
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert results[:2] == ["first", "second"] and results[3] == "fourth"
        assert isinstance(results[2], ValueError) and "bad-third" in str(results[2])
        rows = [v for (v,) in other.execute("SELECT value FROM t ORDER BY rowid")]
        assert rows == ["other", "first", "second", "fourth"]
        assert len(committed) == 2  # the first write alone, then the three behind it together
        other.close()
    finally:
        await db.close()


async def test_a_write_that_raises_on_the_write_thread_stores_nothing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'chat.db'}")
    db.inline_writes = False  # every write through the write thread
    try:
        await db.write(lambda conn: conn.execute(text("CREATE TABLE t (value TEXT)")))
        lone = await asyncio.gather(db.write(_insert_or_refuse, "bad-alone"), return_exceptions=True)
        assert isinstance(lone[0], ValueError)
        rows = await db.read(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar_one())
        assert rows == 0
    finally:
        await db.close()
