"""Wake-ups: "something changed, look again", across processes and hosts.

The worker *wakes* the web processes after each transaction that wrote events; each
web process's tailer, woken, reads the new events from the database. A wake-up carries no
data, so a lost one costs at most the tailer's fallback poll. One word for it throughout:
a waker sends wake-ups, a receiver takes them. Three carriers, chosen from
the settings (`wakeup_backend`):

- `postgresql` (the data is on PostgreSQL): NOTIFY on `<prefix>_events`, LISTENed to by
  one connection per web process. Crosses hosts with the data itself.
- `redis` (the data is elsewhere and CHATTRAIN_QUEUE_URL names Redis): PUBLISH on
  `<prefix>.events`, one SUBSCRIBE per web process.
- `doorbell` (everything on one host): Unix datagram sockets in the data folder
  (shared/wakeups/doorbell.py).

Wake-ups are folded: the worker asks for one per write transaction, and those asked
for while one is being sent become that one (FoldingWaker), so a busy worker sends far
fewer than it writes. A receiver that loses its server reconnects and wakes its tailer
once connected again, since wake-ups sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from shared.lib.backend_urls import redact_url
from shared.lib.outages import Backoff, Outage
from shared.settings import Settings
from shared.wakeups.doorbell import WEB_ROLE, Doorbell, DoorbellWaker, FoldingWaker

log = logging.getLogger("chattrain.wakeups")

RECONNECT_SECONDS = 1.0


def wakeup_backend(settings: Settings) -> str:
    """Which carrier these settings use: `postgresql`, `redis` or `doorbell`."""
    if settings.resolved_database_url.startswith("postgresql"):
        return "postgresql"
    if settings.queue_url:
        return "redis"
    return "doorbell"


class Waker(Protocol):
    def wake(self) -> None:
        """Tell every receiver to look again (returns at once; sent in the background)."""


class WakeupReceiver(Protocol):
    name: str
    listening: bool  # connected to its carrier now (/api/health's wakeups.listening)

    def start(self, loop: asyncio.AbstractEventLoop, on_wake: Callable[[], None]) -> None:
        """Call `on_wake` on `loop` whenever a wake-up arrives."""

    def stop(self) -> None: ...


def create_waker(settings: Settings) -> Waker:
    """The waking side, for workers (and anything else that writes events)."""
    backend = wakeup_backend(settings)
    if backend == "postgresql":
        return FoldingWaker(_PostgresNotify(settings).send)
    if backend == "redis":
        return FoldingWaker(_RedisPublish(settings).send)
    return FoldingWaker(DoorbellWaker(settings.doorbell_dir, WEB_ROLE).wake)


def create_wakeup_receiver(settings: Settings) -> WakeupReceiver:
    """The receiving side, one per web process."""
    backend = wakeup_backend(settings)
    if backend == "postgresql":
        return _PostgresReceiver(settings)
    if backend == "redis":
        return _RedisReceiver(settings)
    return _DoorbellReceiver(settings)


def notify_channel(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}_events"


def publish_channel(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}.events"


def libpq_conninfo(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (`postgresql+psycopg://...`) as libpq takes it."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class _DoorbellReceiver:
    name = "doorbell"
    listening = True  # a socket in the data folder: nothing to lose

    def __init__(self, settings: Settings):
        self._folder = settings.doorbell_dir
        self._doorbell: Doorbell | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop, on_wake: Callable[[], None]) -> None:
        self._doorbell = doorbell = Doorbell(self._folder, WEB_ROLE)
        self._loop = loop

        def on_wakeup() -> None:
            if doorbell.drain():
                on_wake()

        loop.add_reader(doorbell.fileno(), on_wakeup)

    def stop(self) -> None:
        if self._doorbell is not None and self._loop is not None:
            self._loop.remove_reader(self._doorbell.fileno())
            self._doorbell.close()
            self._doorbell = None


class _ThreadReceiver:
    """Receives on a thread of its own with a blocking client, reconnecting after a
    failure; `_receive` returns when `_stopping` is set."""

    name = ""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    @property
    def listening(self) -> bool:
        return self.connected.is_set()

    def start(self, loop: asyncio.AbstractEventLoop, on_wake: Callable[[], None]) -> None:
        def wake() -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(on_wake)

        self._thread = threading.Thread(target=self._run, args=(wake,), name=f"wakeups-{self.name}", daemon=True)
        self._thread.start()

    def _run(self, wake: Callable[[], None]) -> None:
        outage = Outage(log, f"{self.name} wake-ups (the slow poll covers meanwhile)")
        backoff = Backoff(first=RECONNECT_SECONDS / 2, most=5.0)
        while not self._stopping.is_set():
            try:
                self._receive(wake, outage, backoff)
            except Exception as error:
                self.connected.clear()
                outage.failed(error)
                self._stopping.wait(backoff.delay())

    def _connected(self, wake: Callable[[], None], outage: Outage, backoff: Backoff) -> None:
        """Connected (again): whatever was sent while not connected is lost."""
        self.connected.set()
        outage.succeeded()
        backoff.reset()
        wake()

    def _receive(self, wake: Callable[[], None], outage: Outage, backoff: Backoff) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=RECONNECT_SECONDS + 2)


class _RedisReceiver(_ThreadReceiver):
    name = "redis"

    def _receive(self, wake: Callable[[], None], outage: Outage, backoff: Backoff) -> None:
        from redis import Redis

        client = Redis.from_url(
            self._settings.queue_url, socket_connect_timeout=5, socket_timeout=RECONNECT_SECONDS + 10
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(publish_channel(self._settings))
            pubsub.get_message(timeout=RECONNECT_SECONDS)  # the subscription's confirmation
            self._connected(wake, outage, backoff)
            while not self._stopping.is_set():
                if pubsub.get_message(timeout=RECONNECT_SECONDS) is not None:
                    while pubsub.get_message(timeout=0) is not None:  # fold what is waiting
                        pass
                    wake()
        finally:
            pubsub.close()
            client.close()


class _PostgresReceiver(_ThreadReceiver):
    name = "postgresql"

    def _receive(self, wake: Callable[[], None], outage: Outage, backoff: Backoff) -> None:
        import psycopg

        with psycopg.connect(
            libpq_conninfo(self._settings.resolved_database_url), autocommit=True, connect_timeout=5
        ) as conn:
            conn.execute(f'LISTEN "{notify_channel(self._settings)}"')
            self._connected(wake, outage, backoff)
            while not self._stopping.is_set():
                # Notifications that arrived together (one per committed transaction;
                # PostgreSQL folds repeats within one) make one wake-up.
                if any(True for _ in conn.notifies(timeout=RECONNECT_SECONDS, stop_after=1)):
                    wake()


class _RedisPublish:
    def __init__(self, settings: Settings):
        from redis import Redis

        self._client = Redis.from_url(settings.queue_url, socket_connect_timeout=5, socket_timeout=5)
        self._channel = publish_channel(settings)
        self._outage = Outage(log, f"wake-ups (PUBLISH to {redact_url(settings.queue_url)}; receivers poll meanwhile)")

    def send(self) -> None:
        from redis.exceptions import RedisError

        try:
            self._client.publish(self._channel, b"")
        except RedisError as error:
            self._outage.failed(error)
        else:
            self._outage.succeeded()


class _PostgresNotify:
    """NOTIFY from a connection of its own, in autocommit (after the writing transaction
    has committed: a receiver woken earlier would not see its rows)."""

    def __init__(self, settings: Settings):
        self._conninfo = libpq_conninfo(settings.resolved_database_url)
        self._where = redact_url(settings.resolved_database_url)
        self._channel = notify_channel(settings)
        self._conn = None
        self._outage = Outage(log, f"wake-ups (NOTIFY on {self._where}; receivers poll meanwhile)")

    def send(self) -> None:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            self._conn.execute("SELECT pg_notify(%s, '')", (self._channel,))
        except psycopg.Error as error:
            self._conn = None
            self._outage.failed(error)
        else:
            self._outage.succeeded()
