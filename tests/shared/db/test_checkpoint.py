"""WAL checkpoints happen on the background thread, not inside a commit, for both the chat
database and the queue; a queue write waits out another process's lock instead of failing."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

from shared.db.checkpoint import WalCheckpointer, checkpointer_for, log_frames, next_interval, sqlite_file
from shared.db.engine import create_sync_engine
from shared.settings import Settings
from worker.queue_storage import create_queue_storage


def _rows_in_database_file(path: Path, table: str) -> int:
    """Rows of `table` in the database file itself, ignoring the WAL: what a checkpoint
    has copied there (immutable=1 makes SQLite read the file alone)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # the table itself is still only in the WAL
        return 0
    finally:
        conn.close()


def _write_rows(engine, n: int) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)"))
    for _ in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (body) VALUES (:body)"), {"body": "x" * 2000})


def test_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    engine = create_sync_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
    # Far past SQLite's default of 1,000 pages: no commit checkpointed on its own.
    _write_rows(engine, 1500)
    wal_pages = (tmp_path / "chat.db-wal").stat().st_size // 4096
    assert wal_pages > 1000
    assert _rows_in_database_file(path, "t") == 0

    checkpointer = WalCheckpointer([path], interval_seconds=3600)
    connections: dict[Path, sqlite3.Connection] = {}
    try:
        busy, frames, copied = checkpointer.checkpoint_once(connections)[path]
    finally:
        for conn in connections.values():
            conn.close()
    assert busy == 0 and frames > 1000 and copied == frames
    assert _rows_in_database_file(path, "t") == 1500
    engine.dispose()


def test_the_background_thread_checkpoints_both_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", wal_checkpoint_interval_ms=20, wal_checkpoint_min_frames=1)
    settings.data_dir.mkdir(parents=True)
    database = sqlite_file(settings.resolved_database_url)
    engine = create_sync_engine(settings.resolved_database_url)
    storage = create_queue_storage(settings)
    _write_rows(engine, 50)
    for i in range(50):
        storage.enqueue(b"job %d" % i)

    assert _rows_in_database_file(database, "t") == 0
    assert _rows_in_database_file(settings.resolved_queue_path, "task") == 0

    checkpointer = checkpointer_for(settings)
    assert checkpointer.files == [database, settings.resolved_queue_path]
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            copied = (
                _rows_in_database_file(database, "t"),
                _rows_in_database_file(settings.resolved_queue_path, "task"),
            )
            if copied == (50, 50):
                break
            time.sleep(0.05)
        assert copied == (50, 50)
    finally:
        checkpointer.stop()
        engine.dispose()


def _pending(checkpointer: WalCheckpointer, path: Path) -> int:
    frames, copied = checkpointer._log_frames(path)
    return frames - copied


def test_a_small_log_is_left_alone_until_it_reaches_the_threshold(tmp_path: Path) -> None:
    """Checkpointing a small log would make the next commit restart it (a synced header
    and rewritten pages, on a trainee's wait); the log is copied once it is worth it."""
    path = tmp_path / "chat.db"
    engine = create_sync_engine(f"sqlite:///{path}")
    checkpointer = WalCheckpointer([path], interval_seconds=3600, min_frames=200)
    connections: dict[Path, sqlite3.Connection] = {}
    try:
        _write_rows(engine, 20)
        small = _pending(checkpointer, path)
        assert small is not None and 20 <= small < 200
        assert checkpointer.checkpoint_once(connections) == {}
        assert _rows_in_database_file(path, "t") == 0
        _write_rows(engine, 200)
        assert _pending(checkpointer, path) >= 200
        busy, frames, copied = checkpointer.checkpoint_once(connections)[path]
        assert busy == 0 and copied == frames >= 200
        assert _rows_in_database_file(path, "t") == 220
        assert _pending(checkpointer, path) == 0
    finally:
        for conn in connections.values():
            conn.close()
        engine.dispose()


def test_an_unreadable_wal_index_means_checkpoint_anyway() -> None:
    assert log_frames(b"") is None
    assert log_frames(bytes(100)) is None  # not initialised
    header = bytearray(100)
    header[0:4] = (3007000).to_bytes(4, "little")
    header[12] = 1
    header[16:20] = (500).to_bytes(4, "little")
    header[48:96] = header[0:48]
    header[96:100] = (120).to_bytes(4, "little")
    if sys.byteorder == "little":
        assert log_frames(bytes(header)) == (500, 120)
    header[60] ^= 1  # the two copies differ: a writer is mid-update
    assert log_frames(bytes(header)) is None


def test_queue_writes_wait_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    storage = create_queue_storage(settings)
    other = sqlite3.connect(settings.resolved_queue_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, other.execute, args=("COMMIT",))
    release.start()
    started = time.monotonic()
    storage.enqueue(b"after the other writer")
    waited = time.monotonic() - started
    release.join()
    other.close()
    assert waited >= 0.15
    assert storage.dequeue() == b"after the other writer"


WRITES = 1500


def _grow_under_sustained_writes(tmp_path: Path, restart_factor: int) -> tuple[int, int]:
    """Write for a second and a half while readers keep snapshots open, with the
    checkpointer running; returns (the longest log seen, rows written)."""
    from shared.db import checkpoint as checkpoint_module

    path = tmp_path / "chat.db"
    engine = create_sync_engine(f"sqlite:///{path}")
    _write_rows(engine, 1)
    original = checkpoint_module.RESTART_FACTOR
    checkpoint_module.RESTART_FACTOR = restart_factor
    checkpointer = WalCheckpointer([path], interval_seconds=0.01, min_frames=20)
    checkpoint_module.RESTART_FACTOR = original
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (body) VALUES (:body)"), {"body": "x" * 2000})
            written[0] += 1

    def read() -> None:  # always some reader on an older snapshot
        conn = sqlite3.connect(path, isolation_level=None)
        while not stop.is_set():
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM t").fetchone()
            time.sleep(0.003)
            conn.execute("COMMIT")
        conn.close()

    threads = [threading.Thread(target=f) for f in (write, read, read)]
    for thread in threads:
        thread.start()
    checkpointer.start()
    longest = 0
    # Counted in writes, not seconds: a busy machine writes less in a given time, and the
    # log's growth depends on the writes.
    deadline = time.monotonic() + 60
    while written[0] < WRITES and time.monotonic() < deadline:
        frames = checkpointer._log_frames(path)
        longest = max(longest, frames[0] if frames else 0)
        time.sleep(0.002)
    stop.set()
    for thread in threads:
        thread.join()
    checkpointer.stop()
    engine.dispose()
    return longest, written[0]


def test_a_log_that_passive_passes_cannot_catch_up_with_is_restarted(tmp_path: Path) -> None:
    longest, written = _grow_under_sustained_writes(tmp_path, restart_factor=10)
    # Restarted from 200 frames (10 x 20), plus what arrives while a restart waits. With
    # PASSIVE passes alone the same run grew the log to about 20,000 frames.
    assert written >= WRITES and longest < 1000, (longest, written)


def test_the_looks_back_off_while_no_log_grows_and_resume_when_one_does(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    engine = create_sync_engine(f"sqlite:///{path}")
    checkpointer = WalCheckpointer([path], interval_seconds=3600, min_frames=1000)
    connections: dict[Path, sqlite3.Connection] = {}
    try:
        _write_rows(engine, 5)
        checkpointer.checkpoint_once(connections)
        assert checkpointer.grew  # the first look has nothing to compare with
        checkpointer.checkpoint_once(connections)
        assert not checkpointer.grew
        _write_rows(engine, 1)
        checkpointer.checkpoint_once(connections)
        assert checkpointer.grew
    finally:
        for conn in connections.values():
            conn.close()
        engine.dispose()
    pauses = [0.2]
    for _ in range(6):
        pauses.append(next_interval(pauses[-1], base=0.2, grew=False, longest=2.0))
    assert pauses == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    assert next_interval(2.0, base=0.2, grew=True) == 0.2
    assert next_interval(0.1, base=5.0, grew=False, longest=2.0) == 5.0  # never below the setting
