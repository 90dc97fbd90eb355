"""The web process's database handle.

Each data function runs whole on a database thread, one hop from the event loop per
call (the pattern Datasette uses for SQLite under async load): writes are funnelled
through one thread and one connection, because SQLite has one writer at a time and
queueing there is cheaper than queueing on SQLite's busy timeout; reads run on a small
pool of threads, each with its own connection. SQLAlchemy's async engine on aiosqlite
hops threads once per statement instead, and the hops cost more than the statements: a
session lookup took far longer that way (docs/performance.md, Design measurements).

Two exceptions save the hop where it cannot block the loop: the event tailer's tiny
reads (`read_inline`), and a write that finds the write lock free this instant, which
runs on the loop's thread (`_write_inline`); a write that would have to wait goes to the
write thread, where every write waiting at that moment commits in one transaction
(`_run_group`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from shared.db.engine import (
    BEGIN_MODE,
    IMMEDIATE_NOWAIT,
    DatabaseUnavailable,
    WriterBusy,
    connection_lost,
    create_sync_engine,
    is_sqlite,
    shown_url,
    unreachable,
)
from shared.db.grouped_writes import commit_group
from shared.lib.outages import Outage

T = TypeVar("T")

log = logging.getLogger("chattrain.web")

READ_THREADS = 2


@dataclass(slots=True)
class _PendingWrite:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    future: asyncio.Future
    session_ids: tuple[int, ...]

    def bound(self) -> Callable[[Connection], Any]:
        return lambda conn: self.fn(conn, *self.args, **self.kwargs)


def _settle(outcomes: list[tuple[_PendingWrite, Any, BaseException | None]]) -> None:
    """On the event loop: hand each grouped write's result or error to its caller."""
    for pending, result, error in outcomes:
        if pending.future.cancelled():
            continue
        if error is None:
            pending.future.set_result(result)
        else:
            pending.future.set_exception(error)


class Database:
    def __init__(self, url: str, *, read_threads: int = READ_THREADS):
        self.url = url
        self.engine = create_sync_engine(url, pool_size=read_threads + 2)
        # Whether the server answers, as this process last found it (logged once per
        # outage, not per failed call: shared/lib/outages.py).
        self.outage = Outage(log, f"the database {shown_url(url)}")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-write")
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="db-read")
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()
        # Writes may run on the event loop when nobody holds the write lock (SQLite only).
        self.inline_writes = is_sqlite(url)
        self._thread_writes = 0  # writes handed to the write thread and not yet done
        self._inline_writer: Connection | None = None
        self._pending: list[_PendingWrite] = []  # writes waiting for the write thread
        self._pending_lock = threading.Lock()

    def _connection(self, begin_mode: str) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(begin_mode)
        return conn

    def _connect(self, begin_mode: str) -> Connection:
        try:
            conn = self.engine.connect()
        except DBAPIError as error:
            self.outage.failed(error)
            raise unreachable(self.url, error) from None
        conn.execution_options(**{BEGIN_MODE: begin_mode})
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _unavailable_if_lost(self, conn: Connection, error: BaseException) -> DatabaseUnavailable | None:
        """When `error` means the server went away: drop the connection, so the next call
        on this thread connects again (a connection kept for good stayed broken after the
        server came back), note the outage, and return the error to raise instead."""
        if not connection_lost(conn, error):
            return None
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        if self._inline_writer is conn:
            self._inline_writer = None
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        with contextlib.suppress(Exception):
            conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()
        self.outage.failed(error)
        return unreachable(self.url, error)

    def _run_read(self, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
        conn = self._connection("DEFERRED")
        try:
            try:
                result = fn(conn, *args, **kwargs)
            finally:
                # Ends the read transaction so the next read sees newer commits.
                conn.rollback()
        except Exception as error:
            if (unavailable := self._unavailable_if_lost(conn, error)) is not None:
                raise unavailable from None
            raise
        self.outage.succeeded()
        return result

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a data function in a read transaction."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, partial(self._run_read, fn, args, kwargs))

    def read_inline(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a small read on the event loop's own thread and connection.

        For the event tailer only: its query on an indexed column costs less than handing
        it to a thread and back (docs/performance.md, Design measurements), and in WAL
        mode a read never waits for a writer. Its connection stays the same between calls, which SQLite's
        per-connection data_version needs."""
        return self._run_read(fn, args, {})

    async def write(
        self,
        fn: Callable[..., T],
        *args: Any,
        lock_sessions: Iterable[int] = (),
        **kwargs: Any,
    ) -> T:
        """Run a data function in a write transaction (BEGIN IMMEDIATE); commit on success.

        `lock_sessions`: the sessions it writes to, locked with the rest of its group's in
        id order before any write runs (PostgreSQL; see shared/db/grouped_writes.py). The
        function may run more than once (a group rolled back by a deadlock runs again), so
        it must act on the database alone."""
        # Inline only while no write is queued on the thread: under contention the loop
        # would mostly fail to get the lock, and has better things to do than retry.
        if self.inline_writes and not self._thread_writes:
            try:
                return self._write_inline(fn, args, kwargs)
            except WriterBusy:
                pass  # someone is writing: queue on the write thread, which may wait
        loop = asyncio.get_running_loop()
        pending = _PendingWrite(fn, args, kwargs, loop.create_future(), tuple(lock_sessions))
        with self._pending_lock:
            self._pending.append(pending)
            first = len(self._pending) == 1
        if first:
            self._writer.submit(self._run_group, loop)
        self._thread_writes += 1
        try:
            return await pending.future
        finally:
            self._thread_writes -= 1

    def _run_group(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the write thread: every write queued so far, in one transaction.

        While another process holds the write lock, writes pile up here; taking them
        together costs one lock hand-over and one commit instead of one each, and a
        commit writes each changed page once however many messages share it. A write
        that raises (a session that has ended, a rate limit) is undone alone and its
        caller gets the error (shared/db/grouped_writes.py)."""
        with self._pending_lock:
            group, self._pending = self._pending, []
        if not group:
            return
        conn = None
        try:
            conn = self._connection("IMMEDIATE")
            writes = [pending.bound() for pending in group]
            session_ids = (id_ for pending in group for id_ in pending.session_ids)
            outcomes = [
                (pending, result, error)
                for pending, (result, error) in zip(group, commit_group(conn, writes, session_ids), strict=True)
            ]
        except BaseException as error:  # nothing was committed
            if conn is not None and isinstance(error, Exception):
                error = self._unavailable_if_lost(conn, error) or error
            loop.call_soon_threadsafe(_settle, [(pending, None, error) for pending in group])
            return
        self.outage.succeeded()
        loop.call_soon_threadsafe(_settle, outcomes)

    def _write_inline(self, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
        """The transaction on the event loop's own thread, when the write lock is free this
        instant (WriterBusy otherwise, before anything ran). A message's transaction is
        short (docs/performance.md, Design measurements); handing it to the write thread
        and back cost two thread wake-ups on the path of every reply, most of the time for
        a lock nobody else held."""
        conn = self._inline_writer
        if conn is None:
            conn = self._inline_writer = self.engine.connect()
            conn.execution_options(**{BEGIN_MODE: IMMEDIATE_NOWAIT})
            with self._connections_lock:
                self._connections.append(conn)
        with conn.begin():
            return fn(conn, *args, **kwargs)

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self.engine.dispose()
