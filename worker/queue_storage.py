"""Huey's SQLite queue, with a doorbell so an idle consumer wakes at once.

Stock SqliteHuey polls with a growing back-off of up to ten seconds, so the first
message after a quiet minute would wait. Here `enqueue` wakes the workers through their
doorbells and
`dequeue` blocks on its doorbell (declaring `blocking = True`, which tells Huey's worker
loop not to add its own sleep), with a slow poll as the fallback. The consumer runs
hundreds of greenlets, all calling `dequeue`; they take turns (see there).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

from huey import Huey
from huey.storage import SqliteStorage

from shared.db.engine import WriterBusy, begin_immediate, begin_without_waiting
from shared.db.write_lock import write_lock_for
from shared.lib.backend_urls import BackendUnavailable, redact_url
from shared.lib.extras import missing_driver
from shared.settings import Settings
from shared.wakeups.doorbell import WORKER_ROLE, Doorbell, DoorbellWaker
from worker.queue_entries import PlainDataSerializer, RefusedEntry

log = logging.getLogger("chattrain.worker")

# How long an idle worker waits for its turn at the queue before looking at the stop flag:
# long, because each of the consumer's 500 idle greenlets wakes that often.
TURN_WAIT_SECONDS = 60.0


class DoorbellSqliteStorage(SqliteStorage):
    blocking = True

    def __init__(self, *args, doorbell_dir: Path, poll_interval_seconds: float, **kwargs):  # noqa: ANN002, ANN003
        self._doorbell_dir = doorbell_dir
        self._poll_interval_seconds = poll_interval_seconds
        self._waker: DoorbellWaker | None = None
        self._doorbell: Doorbell | None = None
        self._setup_lock = threading.Lock()
        self._draining = False
        self._turn = threading.Lock()  # held by the one dequeue that looks and waits
        self._write_lock = write_lock_for(Path(kwargs["filename"]))
        super().__init__(*args, **kwargs)

    def _create_connection(self):
        conn = super()._create_connection()
        # WAL with synchronous=NORMAL: durable across process crashes, no fsync per
        # enqueue. A queue entry lost to power failure is re-created by the worker's sweep
        # from the reply_jobs table, which is the source of truth.
        conn.execute("pragma synchronous=1")
        # Checkpoints run on a background thread (shared/db/checkpoint.py), not in a COMMIT.
        conn.execute("pragma wal_autocheckpoint=0")
        return conn

    @contextlib.contextmanager
    def db(self, commit=False, close=False):  # noqa: ANN001, ANN201
        """Huey's transaction, but queued on the file's write lock (shared/db/write_lock.py)
        and begun with the chat database's fast retry instead of SQLite's busy handler,
        whose 1-10 ms sleeps would dominate when an enqueue and a dequeue collide."""
        if not commit:
            with super().db(commit=False, close=close) as cursor:
                yield cursor
            return
        with self.lock:
            conn = self.conn
            self._write_lock.acquire(conn, self._timeout)
            try:
                begin_immediate(conn)
                cursor = conn.cursor()
                try:
                    yield cursor
                except Exception:
                    conn.rollback()
                    raise
                else:
                    conn.commit()
                finally:
                    cursor.close()
                    if close:
                        conn.close()
                        self._conn = None
            finally:
                self._write_lock.release(conn)

    def enqueue(self, data, priority=None):  # noqa: ANN001
        super().enqueue(data, priority)
        self._wake_workers()

    def enqueue_many(self, messages: list[bytes]) -> None:
        """Enqueue several messages in one transaction, then wake the workers once per
        message (each wake-up wakes one idle worker thread)."""
        with self.db(commit=True) as cursor:
            cursor.executemany(
                "insert into task (queue, data, priority) values (?, ?, ?)",
                [(self.name, self.to_blob(data), 0) for data in messages],
            )
        for _ in messages:
            self._wake_workers()

    def try_enqueue(self, data, priority=None) -> bool:  # noqa: ANN001
        """Enqueue (and wake the workers) only if no other writer holds the queue file this instant;
        False, with nothing written, otherwise. For the web process's event loop, which
        must not wait for a worker's dequeue to commit."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            conn = self.conn
            try:
                begin_without_waiting(conn, self._write_lock)
            except WriterBusy:
                return False
            try:
                conn.execute(
                    "insert into task (queue, data, priority) values (?, ?, ?)",
                    (self.name, self.to_blob(data), priority or 0),
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                self._write_lock.release(conn)
        finally:
            self.lock.release()
        self._wake_workers()
        return True

    def _wake_workers(self) -> None:
        if self._waker is None:
            self._waker = DoorbellWaker(self._doorbell_dir, WORKER_ROLE)
        self._waker.wake()

    def _sleeper(self) -> Doorbell:
        # Created on first dequeue, so only consumer processes own a doorbell socket.
        with self._setup_lock:
            if self._doorbell is None:
                self._doorbell = Doorbell(
                    self._doorbell_dir, WORKER_ROLE, receive_timeout_seconds=self._poll_interval_seconds
                )
            return self._doorbell

    def stop_dequeuing(self) -> None:
        """The consumer is shutting down: take no more jobs in this process, so a job put
        back on the queue during shutdown waits for the next worker."""
        self._draining = True

    def _take_next(self, *, woken: bool = False) -> bytes | None:
        """The next task, removed from the queue. Unless a wake-up says a task was just
        enqueued, a read first spares the write lock when the queue is empty (the common
        case of a fallback poll)."""
        if not woken and not self.sql("select 1 from task where queue = ? limit 1", (self.name,), results=True):
            return None
        with self.db(commit=True) as cursor:
            cursor.execute("select id, data from task where queue = ? order by priority desc, id limit 1", (self.name,))
            row = cursor.fetchone()
            if row is None:
                return None
            cursor.execute("delete from task where id = ?", (row[0],))
            return row[1] if cursor.rowcount == 1 else None

    def dequeue(self):
        """The next task, or None after the fallback poll interval.

        Every idle worker calls this. One at a time holds the turn: it drains the wake-ups
        (the look that follows answers them), looks at the queue and, finding it empty,
        waits on the doorbell; the others wait for the turn. So a burst of N tasks is
        taken by N turns in a row, a wake-up wakes one waiter, and an idle consumer wakes
        once per poll interval however many workers it runs. The wait for the turn has a
        timeout only so a thread notices a graceful shutdown (greenlets are interrupted)."""
        if self._draining or not self._turn.acquire(timeout=TURN_WAIT_SECONDS):
            return None
        try:
            if self._draining:
                return None
            doorbell = self._sleeper()
            doorbell.drain()
            data = self._take_next()
            if data is None and doorbell.wait_for_wakeup() and not self._draining:
                data = self._take_next(woken=True)
            return data
        finally:
            self._turn.release()

    def close_doorbell(self) -> None:
        with self._setup_lock:
            if self._doorbell is not None:
                self._doorbell.close()
                self._doorbell = None


def create_queue_storage(settings: Settings, name: str = "chattrain"):  # noqa: ANN201
    """The queue's storage: Redis when CHATTRAIN_QUEUE_URL is set (worker/redis_queue.py),
    else Huey's SQLite file under the data folder, with doorbells."""
    if settings.queue_url:
        missing = missing_driver("redis")
        if missing is not None:
            raise BackendUnavailable(f"CHATTRAIN_QUEUE_URL {redact_url(settings.queue_url)}: {missing}")
        from worker.redis_queue import create_redis_queue_storage

        return create_redis_queue_storage(settings, name)
    settings.resolved_queue_path.parent.mkdir(parents=True, exist_ok=True)
    return DoorbellSqliteStorage(
        name,
        filename=str(settings.resolved_queue_path),
        doorbell_dir=settings.doorbell_dir,
        poll_interval_seconds=settings.worker_poll_interval_ms / 1000,
    )


class ChatTrainHuey(Huey):
    """Huey without task revocation. Before running each task Huey looks its id up in the
    queue file's revocation table, and after it clears the id there: a query and a write
    per task for a feature ChatTrain does not use (a reply is stopped through its
    reply_jobs row). So nothing is ever revoked, and asking to revoke is an error rather
    than a no-op."""

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        # Plain data, never pickle: an entry cannot run code (worker/queue_entries.py).
        kwargs.setdefault("serializer", PlainDataSerializer())
        super().__init__(*args, **kwargs)

    def dequeue(self):  # noqa: ANN201
        """The next task, or None; an entry that is not a ChatTrain job is dropped with
        one line (its job, if it had one, is enqueued again by the sweep)."""
        try:
            return super().dequeue()
        except RefusedEntry as error:
            log.warning("queue entry refused, not a ChatTrain job: %s", error)
            return None

    def is_revoked(self, task, timestamp=None, peek=True) -> bool:  # noqa: ANN001
        return False

    def delete(self, key) -> bool:  # noqa: ANN001
        # After each task Huey clears its revocation flag: a write transaction on the
        # queue file per reply, for a flag that is never set here. (With results off and
        # no locks, revocation flags are the only keys Huey would delete.)
        return False

    def _revoke_unsupported(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise NotImplementedError("ChatTrain's queue does not revoke tasks; finish or fail the reply_jobs row instead")

    revoke = revoke_all = revoke_by_id = _revoke_unsupported

    def create_consumer(self, **options):  # noqa: ANN003, ANN201
        consumer = super().create_consumer(**options)
        # The consumer's main loop looks for a stop signal ten times a second, a large
        # share of an idle worker's wake-ups (docs/performance.md, Design measurements);
        # once a second is soon enough to notice SIGTERM.
        consumer._stop_flag_timeout = 1.0
        return consumer
