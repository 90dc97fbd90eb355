"""Many small write transactions committed as one (a group commit).

SQLite has one writer at a time, and every commit pays the same fixed costs: the write
lock, `BEGIN IMMEDIATE`, the log pages of each table and index it touched, the commit
itself and a ring to the web processes. Writes that are ready at the same moment share
them: each runs in its own savepoint inside one transaction, so one that raises is undone
alone and its caller gets the error, while the others commit.

The web process groups the writes queued for its write thread (web/database.py); the
worker groups the writes of its reply greenlets with `GroupedWriter`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sqlalchemy import Connection

WriteFn = Callable[[Connection], Any]


def run_each_in_savepoint(conn: Connection, writes: list[WriteFn]) -> Iterator[tuple[Any, BaseException | None]]:
    """Run each write inside the caller's open transaction, yielding (result, error) in
    order. With one write there is no savepoint and an error propagates: rolling the
    transaction back undoes that write alone anyway."""
    if len(writes) == 1:
        yield writes[0](conn), None
        return
    driver = conn.connection.driver_connection
    for write in writes:
        driver.execute("SAVEPOINT grouped_write")
        try:
            result = write(conn)
        except Exception as error:
            driver.execute("ROLLBACK TO grouped_write")
            driver.execute("RELEASE grouped_write")
            yield None, error
            continue
        driver.execute("RELEASE grouped_write")
        yield result, None


@dataclass(slots=True)
class _Write:
    fn: WriteFn
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
        self.groups = 0  # transactions run, for tests
        self.writes = 0

    def write(self, fn: WriteFn) -> Any:
        pending = _Write(fn)
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
        if self._conn is None:
            self._conn = self._connect()
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with self._conn.begin():
                outcomes = list(run_each_in_savepoint(self._conn, [pending.fn for pending in group]))
        except BaseException as error:  # nothing was committed
            outcomes = [(None, error)] * len(group)
        for pending, (result, error) in zip(group, outcomes):
            pending.result, pending.error, pending.done = result, error, True
        self.groups += 1
        self.writes += len(group)
