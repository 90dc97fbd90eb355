"""Huey's Redis storage, for a queue shared by workers on several hosts.

Workers wait with BRPOP (Redis wakes the waiter the moment a job is pushed: no doorbell,
no polling). The consumer runs hundreds of greenlets that all call `dequeue`; each BRPOP
would hold a connection of its own, so, as with the SQLite queue, they take turns: one
waits on Redis, the others wait for the turn. The BRPOP's timeout only lets the waiter
notice a shutdown.

Redis only prompts work: a job lost with Redis (a restart without persistence, a worker
that popped it and died) is still a `reply_jobs` row, and the worker's sweep enqueues it
again (worker/maintenance.py).
"""

from __future__ import annotations

import logging
import threading
import time

from huey.storage import RedisStorage
from redis import ConnectionPool
from redis.exceptions import RedisError

from shared.lib.backend_urls import BackendUnavailable, describe_error, redact_url
from shared.lib.outages import Backoff, Outage
from shared.settings import Settings

log = logging.getLogger("chattrain.worker")

# How long an idle worker waits for its turn at the queue before looking at the stop flag.
TURN_WAIT_SECONDS = 60.0


class RedisQueueStorage(RedisStorage):
    blocking = True

    def __init__(self, name: str, *, url: str, read_timeout_seconds: float):
        # A BRPOP blocks for up to read_timeout: the socket must wait longer than that.
        pool = ConnectionPool.from_url(
            url, socket_connect_timeout=5, socket_timeout=read_timeout_seconds + 10, health_check_interval=30
        )
        super().__init__(name=name, blocking=True, read_timeout=read_timeout_seconds, connection_pool=pool)
        self.url = url
        self._turn = threading.Lock()
        self._draining = False
        # While Redis is away: a few log lines per outage, and one waiter retrying after a
        # growing pause while the others wait for their turn (not 500 greenlets each
        # logging a traceback several times a second).
        self.outage = Outage(log, f"the queue at {redact_url(url)}")
        self._backoff = Backoff()

    def enqueue_many(self, messages: list[bytes]) -> None:
        """Enqueue several messages in one round trip."""
        if messages:
            self.conn.lpush(self.queue_key, *messages)

    def try_enqueue(self, data, priority=None) -> bool:  # noqa: ANN001
        """Never from the web process's event loop: a push is a round trip to another host,
        and while Redis is down or restarting a connection attempt waits for seconds. So
        False, nothing written, and the caller hands the push to its queue thread."""
        return False

    def stop_dequeuing(self) -> None:
        """The consumer is shutting down: take no more jobs in this process."""
        self._draining = True

    def dequeue(self):
        """The next task, or None after the BRPOP's timeout; one caller waits on Redis at a
        time (see the module's docstring)."""
        if self._draining or not self._turn.acquire(timeout=TURN_WAIT_SECONDS):
            return None
        try:
            if self._draining:
                return None
            try:
                task = super().dequeue()
            except RedisError as error:
                self.outage.failed(error)
                time.sleep(self._backoff.delay())  # holding the turn: one waiter retries
                return None
            self._backoff.reset()
            self.outage.succeeded()
            return task
        finally:
            self._turn.release()

    def read_schedule(self, timestamp):  # noqa: ANN001, ANN201
        """Huey's scheduler reads this every second: while Redis is away it counts towards
        the outage instead of logging a traceback each time."""
        try:
            return super().read_schedule(timestamp)
        except RedisError as error:
            self.outage.failed(error)
            return []

    def close_doorbell(self) -> None:
        """Nothing to close: Redis is the wake-up (the SQLite storage closes its socket)."""


def create_redis_queue_storage(settings: Settings, name: str) -> RedisQueueStorage:
    """The queue on the Redis server CHATTRAIN_QUEUE_URL names, checked with a PING so a
    wrong URL or a server that is down stops start-up with one line."""
    try:
        storage = RedisQueueStorage(
            f"{settings.redis_key_prefix}_{name}" if settings.redis_key_prefix != name else name,
            url=settings.queue_url,
            read_timeout_seconds=max(1, round(settings.worker_poll_interval_ms / 1000)),
        )
        storage.conn.ping()
    except (RedisError, ValueError, OSError) as error:
        raise BackendUnavailable(
            f"CHATTRAIN_QUEUE_URL: cannot use the Redis queue at {redact_url(settings.queue_url)}: {describe_error(error)}"
        ) from None
    return storage
