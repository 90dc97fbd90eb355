"""One writer at a time per SQLite file, handed over without sleeping.

SQLite lets one connection write at a time and tells the others "locked"; they retry
(engine.begin_immediate backs off from 50 µs). Under load, profiles showed most of the
web writer's and the worker threads' time in that retry loop (docs/performance.md, Design
measurements), while the lock itself sat free between a release and the next sleeper's
wake-up. So every ChatTrain write
transaction first takes this lock: a thread lock among the threads of one process, then
an exclusive `flock` on `<database>-writer` among processes. Waiters block in the kernel
and the next one runs as soon as the holder commits. SQLite's own lock is still taken
(BEGIN IMMEDIATE) and still decides; this only queues ChatTrain's writers in front of it.
Like SQLite's WAL mode itself, it assumes every process is on the same machine."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from shared.lib.cooperative import blocking_call

_locks: weakref.WeakValueDictionary[Path, WriteLock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


class WriteLock:
    def __init__(self, database: Path):
        self.path = database.with_name(database.name + "-writer")
        self._fd: int | None = None  # opened on first use, when the data folder exists
        self._threads = threading.Lock()
        self._holder: Any = None
        self._owner: int | None = None

    def acquire(self, holder: Any, timeout_seconds: float) -> None:
        """Take the lock for `holder` (a DBAPI connection about to BEGIN IMMEDIATE)."""
        self._refuse_nesting()
        if not self._threads.acquire(timeout=timeout_seconds):
            raise sqlite3.OperationalError("database is locked (another writer in this process held it too long)")
        self._lock_file(holder, fcntl.LOCK_EX)

    def try_acquire(self, holder: Any) -> bool:
        """Take the lock only if no writer, here or in another process, has it now."""
        self._refuse_nesting()
        if not self._threads.acquire(blocking=False):
            return False
        try:
            self._lock_file(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a writer in another process has it
            return False
        return True

    def _refuse_nesting(self) -> None:
        if self._owner == threading.get_ident():
            # A second write transaction inside the first, on another connection, would
            # wait for itself forever: fail loudly instead.
            raise RuntimeError(f"nested write transaction on {self.path.name[:-7]} in one thread")

    def _lock_file(self, holder: Any, operation: int) -> None:
        """With the thread lock held: flock the file (releasing the thread lock if that
        fails), then record the holder."""
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._fd, operation | fcntl.LOCK_NB)
            except BlockingIOError:
                if operation & fcntl.LOCK_NB:
                    raise
                blocking_call(fcntl.flock, self._fd, operation)  # another process writes
        except BaseException:
            self._threads.release()
            raise
        self._holder, self._owner = holder, threading.get_ident()

    def release(self, holder: Any) -> None:
        """Release if `holder` has it (a rollback also runs when nothing was begun)."""
        if self._holder is not holder:
            return
        self._holder = self._owner = None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


def write_lock_for(database: Path) -> WriteLock:
    """The process's lock for one database file (shared by every engine on that file)."""
    key = database.resolve()
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = WriteLock(key)
        return lock
