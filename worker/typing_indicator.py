"""When to write the `typing` indicator: only for a reply that is slow to come.

A reply generated within one delta batch interval (CHATTRAIN_STREAM_BATCH_MS) goes out
whole, and a typing frame just before it would only flicker; writing it anyway cost an
event row, a wake-up of every web process and a frame per reply. So a reply job
registers here when it starts (worker/streaming.py), and one thread per worker process
writes the `typing` events of the jobs still unanswered when their interval has passed,
together, through the worker's grouped writes (checked once per interval, so typing
comes one to two intervals after the reply started). Each is `write_typing`
(shared/conversation/writes.py), which also claims the job for the run (the run claims
lazily) and writes nothing if the job is finished, claimed by another run, or has sent
text already; and a run settles its entry, waiting out a typing write in progress,
before it writes anything itself. So `typing` never follows what it announces."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from shared.conversation.writes import write_typing

log = logging.getLogger("chattrain.worker")

# How long the thread keeps its once-per-interval look after the last reply started,
# before it sleeps until woken: waking it delays a reply by far less than a model takes to
# answer, while its looks were a large share of an idle worker's CPU (docs/performance.md,
# Design measurements).
IDLE_AFTER_SECONDS = 5.0


@dataclass(eq=False)
class PendingReply:
    session_id: int
    message_id: int
    claimant: str
    due: float
    settled: bool = field(default=False)


class TypingIndicator:
    def __init__(
        self,
        write: Callable[..., bool],
        wake_web: Callable[[], None],
        delay_seconds: float,
        *,
        claim_seconds: float = 10.0,
        idle_after_seconds: float = IDLE_AFTER_SECONDS,
        note_failure: Callable[..., None] | None = None,
    ):
        self._write = write  # WorkerRuntime.write: typing commits with the replies' writes
        self._note_failure = note_failure  # WorkerRuntime.note_failure: an outage logs once
        self.idle_after_seconds = idle_after_seconds
        self._wake_web = wake_web
        self.delay_seconds = delay_seconds
        self.claim_seconds = claim_seconds
        self._pending: list[PendingReply] = []
        self._changed = threading.Condition()
        self._writing = threading.Lock()  # held while a typing transaction is being written
        self._asleep = False  # waiting without a timeout: started() must notify
        self._last_started = 0.0
        self._thread: threading.Thread | None = None

    def started(self, session_id: int, message_id: int, claimant: str) -> PendingReply:
        """A run (`claimant`) began generating this reply; call settle() before it writes anything."""
        pending = PendingReply(session_id, message_id, claimant, time.monotonic() + self.delay_seconds)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chattrain-typing", daemon=True)
                self._thread.start()
            # While replies keep coming the thread looks once per interval anyway, and
            # waking it here would put a thread switch on the path of every reply; only a
            # thread asleep for good (no reply started for idle_after_seconds) needs waking.
            self._pending.append(pending)
            self._last_started = time.monotonic()
            if self._asleep:
                self._asleep = False
                self._changed.notify()
        return pending

    def settle(self, pending: PendingReply) -> None:
        """The run is about to write its reply, a delta or an error: no typing for it any
        more. Returns once no typing write for it can still be in progress."""
        if pending.settled:
            return
        with self._writing:
            pending.settled = True

    def _take_due(self) -> list[PendingReply]:
        with self._changed:
            while True:
                self._pending = [p for p in self._pending if not p.settled]
                if not self._pending:
                    # Between replies: look again in one interval, so a typing event is
                    # written one to two intervals after its reply started. Once no reply
                    # has started for idle_after_seconds, sleep until started() wakes us:
                    # an idle worker should cost nothing. (Counted from the last start,
                    # not the last time one was seen pending: fast replies settle before
                    # the thread looks, and it would fall asleep, then be woken by every
                    # reply.)
                    if time.monotonic() - self._last_started > self.idle_after_seconds:
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
                # Jobs are appended in start order with the same delay: the first is next.
                self._changed.wait(self._pending[0].due - now)

    def _run(self) -> None:
        while True:
            due = self._take_due()
            try:
                with self._writing:
                    due = [pending for pending in due if not pending.settled]
                    written = (
                        self._write(
                            lambda conn, due=due: self._write_typing(conn, due),
                            lock_sessions=[p.session_id for p in due],
                        )
                        if due
                        else False
                    )
                if written:
                    self._wake_web()
            except Exception as error:
                message_ids = [p.message_id for p in due]
                if self._note_failure is not None:
                    self._note_failure(error, "writing typing events failed message_ids=%s", message_ids)
                else:
                    log.exception("writing typing events failed message_ids=%s", message_ids)

    def _write_typing(self, conn: Connection, due: list[PendingReply]) -> bool:
        """The typing events of every reply due at once, in one transaction."""
        written = [
            write_typing(
                conn,
                session_id=pending.session_id,
                message_id=pending.message_id,
                claimant=pending.claimant,
                claim_seconds=self.claim_seconds,
            )
            for pending in due
        ]
        return any(written)
