"""Writes that run after a delay unless cancelled first: how a reply's `typing` is written
only when the reply is slow to come (worker/streaming.py schedules it, and cancels it
before the reply writes anything itself).

One thread per worker process runs the writes whose time has come, together, in one
transaction of the worker's grouped writes (it looks once per delay, so a write runs
one to two delays after it was scheduled), and wakes the web processes when one wrote
something. `cancel` waits out a write in progress, so once it returns the write has run
or never will: a `typing` never follows the delta or reply it announces. Writing typing
for every reply instead cost an event row, a wake-up of every web process and a frame
per reply, and a typing frame just before a reply that comes whole only flickers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

log = logging.getLogger("chattrain.worker")

# How long the thread keeps its once-per-delay look after the last write was scheduled,
# before it sleeps until woken: waking it delays a reply by far less than a model takes to
# answer, while its looks were a large share of an idle worker's CPU (docs/performance.md,
# Design measurements).
IDLE_AFTER_SECONDS = 5.0


@dataclass(eq=False)
class PendingWrite:
    """A scheduled write: `write(conn)` returns whether it wrote something."""

    write: Callable[[Connection], bool]
    session_id: int  # the session it writes to (lock_sessions, shared/db/grouped_writes.py)
    due: float
    cancelled: bool = field(default=False)


class DelayedWrites:
    def __init__(
        self,
        write: Callable[..., bool],
        wake_web: Callable[[], None],
        delay_seconds: float,
        *,
        idle_after_seconds: float = IDLE_AFTER_SECONDS,
        note_failure: Callable[..., None] | None = None,
    ):
        self._write = write  # WorkerRuntime.write: due writes commit with the replies' writes
        self._note_failure = note_failure  # WorkerRuntime.note_failure: an outage logs once
        self.idle_after_seconds = idle_after_seconds
        self._wake_web = wake_web
        self.delay_seconds = delay_seconds
        self._pending: list[PendingWrite] = []
        self._changed = threading.Condition()
        self._writing = threading.Lock()  # held while due writes are being written
        self._asleep = False  # waiting without a timeout: schedule() must notify
        self._last_scheduled = 0.0
        self._thread: threading.Thread | None = None

    def schedule(self, write: Callable[[Connection], bool], *, session_id: int) -> PendingWrite:
        """Run `write` after the delay, unless `cancel` comes first."""
        pending = PendingWrite(write, session_id, time.monotonic() + self.delay_seconds)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chattrain-delayed-writes", daemon=True)
                self._thread.start()
            # While writes keep being scheduled the thread looks once per delay anyway, and
            # waking it here would put a thread switch on the path of every reply; only a
            # thread asleep for good (nothing scheduled for idle_after_seconds) needs waking.
            self._pending.append(pending)
            self._last_scheduled = time.monotonic()
            if self._asleep:
                self._asleep = False
                self._changed.notify()
        return pending

    def cancel(self, pending: PendingWrite) -> None:
        """The write is no longer wanted. Returns once it cannot be in progress any more."""
        if pending.cancelled:
            return
        with self._writing:
            pending.cancelled = True

    def _take_due(self) -> list[PendingWrite]:
        with self._changed:
            while True:
                self._pending = [p for p in self._pending if not p.cancelled]
                if not self._pending:
                    # Between writes: look again in one delay, so a write runs one to two
                    # delays after it was scheduled. Once nothing has been scheduled for
                    # idle_after_seconds, sleep until schedule() wakes us: an idle worker
                    # should cost nothing. (Counted from the last schedule, not the last
                    # time one was seen pending: fast replies cancel theirs before the
                    # thread looks, and it would fall asleep, then be woken by every reply.)
                    if time.monotonic() - self._last_scheduled > self.idle_after_seconds:
                        self._asleep = True
                        self._changed.wait()
                    else:
                        self._changed.wait(self.delay_seconds)
                    continue
                now = time.monotonic()
                due = [p for p in self._pending if p.due <= now]
                if due:
                    self._pending = [p for p in self._pending if p.due > now]
                    return due
                # Writes are appended in order with the same delay: the first is next.
                self._changed.wait(self._pending[0].due - now)

    def _run(self) -> None:
        while True:
            due = self._take_due()
            try:
                with self._writing:
                    due = [pending for pending in due if not pending.cancelled]
                    written = (
                        self._write(
                            lambda conn, due=due: self._write_due(conn, due),
                            lock_sessions=[p.session_id for p in due],
                        )
                        if due
                        else False
                    )
                if written:
                    self._wake_web()
            except Exception as error:
                sessions = [p.session_id for p in due]
                if self._note_failure is not None:
                    self._note_failure(error, "delayed writes failed session_ids=%s", sessions)
                else:
                    log.exception("delayed writes failed session_ids=%s", sessions)

    @staticmethod
    def _write_due(conn: Connection, due: list[PendingWrite]) -> bool:
        """Every write due at once, in one transaction."""
        return any([pending.write(conn) for pending in due])
