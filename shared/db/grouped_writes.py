"""Many small write transactions committed as one (a group commit).

SQLite has one writer at a time, and every commit pays the same fixed costs: the write
lock, `BEGIN IMMEDIATE`, the log pages of each table and index it touched, the commit
itself and a wake-up to the web processes. Writes that are ready at the same moment share
them in one transaction. A write that raises is undone alone and its caller gets the
error, while the others commit: the group then runs again with each write in a savepoint
of its own (`commit_group`).

The web process groups the writes queued for its write thread (web/database.py); every
write of the worker goes through one `GroupedWriter` (WorkerRuntime.write), which groups
those of its greenlets that are ready together.

On PostgreSQL several processes run such groups at once, and a group that locked session
A then waits for B while another locked B then waits for A is a deadlock: the server
aborts one statement after a second (deadlock_timeout). Aborting it inside its savepoint
freed nothing the other group was waiting for, so the next write to such a session
deadlocked again, a second each, and under load the workers made almost no progress. So
(`commit_group`): each write names the sessions it writes to, the group locks them all
first, in id order, so groups wait for each other in one order; and a group that still
meets a deadlock or a serialization failure (another lock taken out of order, a counter
row) is rolled back whole and run again, so its writes must be safe to re-run: they act
on the database alone (a worker's delta changes what its run has sent only once its
write has committed, worker/streaming.py)."""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from shared.db import sessions as session_rows
from shared.db.engine import connection_lost

WriteFn = Callable[[Connection], Any]
Outcome = tuple[Any, BaseException | None]

log = logging.getLogger("chattrain.db")

# How many times a group rolled back by a deadlock or a serialization failure runs; the
# last failure goes to its writers (a reply job then retries as after a failed call).
GROUP_ATTEMPTS = 5


@functools.cache
def _retryable_errors() -> tuple[type[BaseException], ...]:
    # psycopg is the postgresql extra: a SQLite-only install has no driver, and SQLite
    # aborts no transaction for a deadlock (one writer at a time), so nothing is retried.
    try:
        from psycopg import errors as pg_errors
    except ImportError:
        return ()
    return (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


def is_retryable(error: BaseException | None) -> bool:
    """Whether the database aborted the transaction for a conflict with another one, so
    that running it again may succeed (SQLAlchemy wraps the driver's error in `orig`)."""
    retryable = _retryable_errors()
    return isinstance(error, retryable) or isinstance(getattr(error, "orig", None), retryable)


class _Conflict(Exception):
    """A write of the group met a retryable error inside its savepoint: roll back all."""


class _WriteFailed(Exception):
    """A write of a group run without savepoints raised: roll back all, run with them."""


def commit_group(conn: Connection, writes: list[WriteFn], session_ids: Iterable[int] = ()) -> list[Outcome]:
    """Run `writes` in one transaction on `conn` and commit: each write's (result, error),
    in order. The sessions in `session_ids` are locked first, in id order (PostgreSQL).
    Raises only when nothing could be committed (the error of the last attempt).

    A group first runs without savepoints: on PostgreSQL a savepoint is one more round
    trip per write, and a write almost never fails. When one does, the group is rolled
    back and run again with each write in its own savepoint, so that it is undone alone."""
    ids = sorted(set(session_ids))
    attempt, in_savepoints = 1, len(writes) == 1
    while True:
        try:
            with conn.begin():
                session_rows.lock_sessions(conn, ids)
                if in_savepoints:
                    outcomes = list(run_each_in_savepoint(conn, writes))
                else:
                    outcomes = _run_all_or_none(conn, writes)
                conflict = next((error for _, error in outcomes if is_retryable(error)), None)
                if conflict is not None and attempt < GROUP_ATTEMPTS:
                    raise _Conflict() from conflict  # rolls the whole group back
            return outcomes
        except _WriteFailed:
            in_savepoints = True  # rolled back; not a conflict, so at once and not counted
            continue
        except _Conflict as rolled_back:
            cause = rolled_back.__cause__
        except Exception as error:
            if not is_retryable(error) or attempt == GROUP_ATTEMPTS:
                raise
            cause = error
        log.info("write group of %d rolled back (%s), running it again", len(writes), type(cause).__name__)
        time.sleep(random.uniform(0, 0.005 * attempt))  # the other transaction's turn first
        attempt += 1


def _run_all_or_none(conn: Connection, writes: list[WriteFn]) -> list[Outcome]:
    """Run each write inside the caller's open transaction; a write that raises stops the
    group (_WriteFailed), except for a conflict, which rolls the whole group back anyway."""
    outcomes: list[Outcome] = []
    for write in writes:
        try:
            outcomes.append((write(conn), None))
        except Exception as error:
            if is_retryable(error):
                raise
            raise _WriteFailed() from error
    return outcomes


def run_each_in_savepoint(conn: Connection, writes: list[WriteFn]) -> Iterator[tuple[Any, BaseException | None]]:
    """Run each write inside the caller's open transaction, yielding (result, error) in
    order. With one write there is no savepoint and an error propagates: rolling the
    transaction back undoes that write alone anyway. On PostgreSQL each statement is a
    round trip, so one savepoint's release and the next one's start go together, and the
    last is left to the commit."""
    if len(writes) == 1:
        yield writes[0](conn), None
        return
    driver = conn.connection.driver_connection
    together = conn.dialect.name == "postgresql"  # sqlite3 runs one statement per call
    for index, write in enumerate(writes):
        if index == 0:
            driver.execute("SAVEPOINT grouped_write")
        elif together:
            driver.execute("RELEASE grouped_write; SAVEPOINT grouped_write")
        else:
            driver.execute("RELEASE grouped_write")
            driver.execute("SAVEPOINT grouped_write")
        try:
            result = write(conn)
        except Exception as error:
            driver.execute("ROLLBACK TO grouped_write")  # the savepoint stays, released next
            yield None, error
            continue
        yield result, None


@dataclass(slots=True)
class _Write:
    fn: WriteFn
    session_ids: tuple[int, ...] = ()
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupedWriter:
    """Write transactions for the threads or greenlets of one process, on one connection.

    `write(fn)` runs `fn(conn)` in a write transaction and returns its result (or raises
    its error) once committed. A writer first lets the others that are ready run (a
    yield: under gevent, every greenlet whose model chunk arrived in the same pass of the
    hub), then takes the turn; whoever gets it commits every write queued by then, and
    the writers it served find their work done when their turn comes. At low load a write
    is alone in its group and costs what it did before."""

    def __init__(self, connect: Callable[[], Connection]):
        self._connect = connect
        self._conn: Connection | None = None
        self._turn = threading.Lock()
        self._queue: list[_Write] = []
        self._queue_lock = threading.Lock()

    def write(self, fn: WriteFn, *, lock_sessions: Iterable[int] = ()) -> Any:
        """Run `fn(conn)` in a group's transaction; `lock_sessions`: the sessions it writes
        to (see commit_group)."""
        pending = _Write(fn, tuple(lock_sessions))
        with self._queue_lock:
            self._queue.append(pending)
        time.sleep(0)  # under gevent: the greenlets ready now queue their writes behind this one
        with self._turn:
            if not pending.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit(group)
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _commit(self, group: list[_Write]) -> None:
        outcomes: list[Outcome] = []
        try:
            if self._conn is None:
                self._conn = self._connect()
            writes = [pending.fn for pending in group]
            outcomes = commit_group(self._conn, writes, (id_ for pending in group for id_ in pending.session_ids))
        except BaseException as error:  # nothing was committed
            if self._conn is not None and isinstance(error, Exception) and connection_lost(self._conn, error):
                # The server went away: the next group connects again.
                self._discard()
            outcomes = [(None, error)] * len(group)
        for pending, (result, error) in zip(group, outcomes, strict=True):
            pending.result, pending.error, pending.done = result, error, True

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        for end in (conn.invalidate, conn.close):
            try:
                end()
            except Exception:  # already gone
                pass
