"""The web side of the queue, and the web process's one seam with the worker: enqueue a
reply job or a session's evaluation, read the queue's depth. Nothing else in web/ imports
from worker/.

Tasks are serialised by the consumer's Huey instance (`worker.tasks` and
`worker.evaluation`, the same module paths the consumer imports, because Huey's registry
keys tasks by module and name), and written to the queue file these settings name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from shared.lib.outages import Outage
from shared.settings import Settings
from worker.huey_app import configure_huey
from worker.queue_storage import create_queue_storage

log = logging.getLogger("chattrain.web")

# The readiness check's read waits at most this long for a writer holding the queue file.
CHECK_BUSY_SECONDS = 1.0


def configure_queue(settings: Settings) -> None:
    """Point the consumer's Huey instance, through which this process serialises its
    tasks, at the queue these settings name rather than the environment's."""
    configure_huey(settings)


class ReplyQueue:
    def __init__(self, settings: Settings) -> None:
        from worker.evaluation import evaluate_session
        from worker.huey_app import huey
        from worker.tasks import generate_reply

        self._settings = settings
        self._serialize = huey.serialize_task
        self._generate_reply = generate_reply
        self._evaluate_session = evaluate_session
        self._storage = create_queue_storage(settings, huey.name)
        # Enqueues that would have to wait, handed off from the event loop to a thread,
        # which writes all those waiting in one queue transaction.
        self._waiting_enqueues = ThreadPoolExecutor(1, thread_name_prefix="queue-write")
        self._handed_off: list[bytes] = []
        self._handed_off_lock = threading.Lock()
        self.outage = Outage(log, "the queue")

    def enqueue(self, message_id: int) -> None:
        """Prompt a worker to write the reply to this message (and wake it)."""
        self._put(self._serialize(self._generate_reply.s(message_id)))

    def enqueue_evaluation(self, session_id: int) -> None:
        """Prompt a worker to write the report of this completed session."""
        self._put(self._serialize(self._evaluate_session.s(session_id)))

    def _put(self, data: bytes) -> None:
        """Off the event loop, enqueue (waiting for the queue file if a worker is writing
        it). On the event loop, enqueue only if the file is free this instant and no
        enqueue is waiting already, else hand it to the queue thread, which writes every
        one waiting together: the loop never waits for another process's lock, and under
        load the jobs of many messages go in one queue transaction. A failed enqueue loses
        nothing (see _enqueue_noting_outage)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._storage.enqueue(data)
            return
        if not self._handed_off:
            try:
                if self._storage.try_enqueue(data):
                    self.outage.succeeded()
                    return
            except Exception as error:
                self.outage.failed(error)
                return
        with self._handed_off_lock:
            self._handed_off.append(data)
            first = len(self._handed_off) == 1
        if first:
            self._waiting_enqueues.submit(self._write_handed_off)

    def _write_handed_off(self) -> None:
        with self._handed_off_lock:
            waiting, self._handed_off = self._handed_off, []
        self._enqueue_noting_outage(self._storage.enqueue_many, waiting)

    def _enqueue_noting_outage(self, enqueue, data) -> None:  # noqa: ANN001
        """Enqueue on a thread. A failure loses nothing: the job rows are stored, and the
        worker's sweep enqueues them again once the queue is back (worker/maintenance.py);
        while the queue is away it is logged once per outage, not per job."""
        try:
            enqueue(data)
        except Exception as error:
            self.outage.failed(error)
        else:
            self.outage.succeeded()

    def close(self) -> None:
        self._waiting_enqueues.shutdown(wait=True)

    @property
    def backend(self) -> str:
        """`redis` or `sqlite`."""
        return "redis" if self._settings.queue_url else "sqlite"

    def check(self) -> None:
        """One cheap round trip to the queue, raising when it cannot be made: a PING on
        Redis; on SQLite, a read of the queue file through a connection of its own, opened
        by name, so a file that was removed or cannot be opened fails the check (the
        storage's open connection would go on reading a removed file). Blocks: call it on
        a thread."""
        queue_file = self._settings.queue_file
        if queue_file is None:
            self._storage.conn.ping()
            return
        uri = f"{queue_file.as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=CHECK_BUSY_SECONDS)) as conn:
            conn.execute("select 1 from task limit 1").fetchall()

    def depth_and_latency(self) -> tuple[int, float]:
        """The queue's depth and the round trip that read it, in milliseconds."""
        started = time.perf_counter()
        depth = self._storage.queue_size()
        return depth, (time.perf_counter() - started) * 1000
