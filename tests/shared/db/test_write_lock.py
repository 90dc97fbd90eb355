"""The write lock queues ChatTrain's writers on one SQLite file: across threads and across
processes (flock), released when the transaction ends, and loud about nesting."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.write_lock import write_lock_for
from tests.support.stack import REPO_ROOT


def _engine(path: Path):  # noqa: ANN202
    return create_sync_engine(f"sqlite:///{path}").execution_options(**{BEGIN_MODE: "IMMEDIATE"})


def _hold_in_another_process(path: str, seconds: float, held) -> None:  # noqa: ANN001
    engine = _engine(Path(path))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('other process')"))
        held.set()
        time.sleep(seconds)


def test_a_writer_in_another_process_is_waited_for_and_then_followed(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    engine = _engine(path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    spawn = multiprocessing.get_context("spawn")
    held = spawn.Event()
    other = spawn.Process(target=_hold_in_another_process, args=(str(path), 0.3, held))
    other.start()
    assert held.wait(30)
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('this process')"))
    waited = time.monotonic() - started
    other.join(30)
    assert waited >= 0.1  # it queued behind the other transaction rather than failing
    with engine.connect() as conn:
        assert [who for (who,) in conn.execute(text("SELECT who FROM t ORDER BY id"))] == [
            "other process",
            "this process",
        ]


def test_threads_take_turns_and_every_write_lands(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "chat.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))

    def add(times: int) -> None:
        for _ in range(times):
            with engine.begin() as conn:  # a read-then-write that would lose updates unserialised
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=add, args=(50,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 200


def test_the_lock_is_free_after_a_commit_and_after_a_rollback(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    engine = _engine(path)
    lock = write_lock_for(path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        assert lock._holder is not None
    assert lock._holder is None
    with pytest.raises(ZeroDivisionError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t DEFAULT VALUES"))
            raise ZeroDivisionError
    assert lock._holder is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_nested_write_transaction_fails_instead_of_waiting_for_itself(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    first, second = _engine(path), _engine(path)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        with pytest.raises(RuntimeError, match="nested write transaction"):
            with second.begin():
                pass


def test_under_gevent_waiting_for_another_processes_writer_lets_other_greenlets_run(tmp_path) -> None:
    """The consumer's greenlets share one thread: a blocking flock would stop them all."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        from gevent import monkey; monkey.patch_all()
        import fcntl, os, subprocess, sys, time
        import gevent
        from pathlib import Path
        from shared.db.write_lock import write_lock_for
        database = Path({str(tmp_path / "chat.db")!r})
        holder = subprocess.Popen([sys.executable, "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1)",
            str(database) + "-writer"], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "held"
        ticks = []
        def tick():
            while True:
                ticks.append(1)
                gevent.sleep(0.01)
        ticker = gevent.spawn(tick)
        gevent.sleep(0.02)
        before = len(ticks)
        write_lock_for(database).acquire("connection", 10)
        print(len(ticks) - before)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 10  # about 100 ticks while the other process held the lock
