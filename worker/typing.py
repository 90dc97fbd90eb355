"""The `typing` indicator, written only for a reply that is slow to come.

A reply generated within one delta batch interval (CHATTRAIN_STREAM_BATCH_MS) goes out
whole, and a typing frame just before it would only flicker; writing it anyway cost an
event row, a wake-up of every web process and a frame per reply. So a reply job
registers here when it starts, and one thread per worker process writes the `typing`
event for each job still unanswered when its interval has passed. The write checks, in
its own transaction, that the job is still being worked on and that neither its reply nor
a delta has been written, so `typing` never follows what it announces."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Engine

from shared.db import events as event_rows
from shared.db import jobs as job_rows

log = logging.getLogger("chattrain.worker")


@dataclass(eq=False)
class PendingReply:
    session_id: int
    message_id: int
    due: float
    settled: bool = field(default=False)


def write_typing_if_pending(conn, session_id: int, message_id: int) -> bool:  # noqa: ANN001
    """Append the reply's `typing` event unless it is no longer being generated or has
    already sent text. True if written."""
    job = job_rows.select_reply_job(conn, message_id)
    if job is None or job["status"] != "working":
        return False
    if event_rows.select_streamed_deltas(conn, session_id, message_id)[1] > 0:
        return False
    event_rows.insert_event(conn, session_id=session_id, type="typing", payload={"reply_to": message_id}, message_id=message_id)
    return True


class TypingIndicator:
    def __init__(self, write_engine: Engine, ring_web: Callable[[], None], delay_seconds: float):
        self._engine = write_engine
        self._ring_web = ring_web
        self.delay_seconds = delay_seconds
        self._pending: list[PendingReply] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def started(self, session_id: int, message_id: int) -> PendingReply:
        """A job began generating this reply; call settle() once it has written anything."""
        pending = PendingReply(session_id, message_id, time.monotonic() + self.delay_seconds)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chattrain-typing", daemon=True)
                self._thread.start()
            self._pending.append(pending)
            if len(self._pending) == 1:
                self._changed.notify()
        return pending

    def settle(self, pending: PendingReply) -> None:
        """The reply, a delta or an error is being written: no typing for it any more."""
        pending.settled = True

    def _take_due(self) -> list[PendingReply]:
        with self._changed:
            while True:
                self._pending = [p for p in self._pending if not p.settled]
                if not self._pending:
                    self._changed.wait()
                    continue
                now = time.monotonic()
                due = [p for p in self._pending if p.due <= now]
                if due:
                    self._pending = [p for p in self._pending if p.due > now]
                    return due
                # Jobs are appended in start order with the same delay: the first is next.
                self._changed.wait(self._pending[0].due - now)

    def _run(self) -> None:
        while True:
            due = self._take_due()
            try:
                written = 0
                with self._engine.begin() as conn:
                    for pending in due:
                        if not pending.settled:
                            written += write_typing_if_pending(conn, pending.session_id, pending.message_id)
                if written:
                    self._ring_web()
            except Exception:
                log.exception("writing typing events failed")
