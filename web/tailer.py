"""Step three of a message's path: one tailer per web process reads new events by id and
hands each to the sockets of its session.

It wakes on a worker's wake-up after new events (shared/wakeups/channels.py: a doorbell on one host,
LISTEN/NOTIFY or Redis pub/sub across hosts), when this process writes an event itself,
or, as a fallback, on a slow timer (on SQLite gated by `PRAGMA data_version`, which
changes only when another connection has committed). It never queries per session."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from shared.conversation.frames import event_text
from shared.db.engine import DatabaseUnavailable, is_sqlite
from shared.db.events import StoredEvent, select_data_version, select_events_after, select_max_event_id
from shared.lib.outages import Backoff
from shared.settings import Settings
from shared.wakeups.channels import WakeupReceiver, create_wakeup_receiver
from web.database import Database

log = logging.getLogger("chattrain.web")


class Subscriber:
    """One socket's view of its session's events: delivers each event at most once, in
    order, whether it comes from a replay or from the live tail.

    Frames wait in a plain list and a short-lived task sends them, started when the first
    frame of a burst arrives and gone when the list is empty. An idle socket therefore
    holds no sender task and no asyncio.Queue (four deques): with thousands of idle
    trainees connected, memory per socket is what limits a web process (docs/performance.md,
    Design measurements)."""

    def __init__(
        self,
        session_id: int,
        send: Callable[[str], Awaitable[None]],
        *,
        event_types: frozenset[str] | None = None,
    ):
        self.session_id = session_id
        # The event types this socket is sent (None: all). A client of the original
        # protocol gets its replies and errors only (see web/blueprints/chat.py).
        self._event_types = event_types
        # The seq (the session's own event number, the event_id clients see) of the last
        # event sent; the tailer's position is the global id, never shown to a client.
        self.last_event_id = 0
        self._send = send
        self._unsent: list[str] = []
        self._sender: asyncio.Task | None = None
        self._closed = False
        self._replaying = False
        self._held: list[StoredEvent] = []

    def deliver(self, event: StoredEvent) -> None:
        if self._replaying:
            self._held.append(event)
        elif event.seq > self.last_event_id:
            self.last_event_id = event.seq
            if self._event_types is None or event.type in self._event_types:
                self._queue(event_text(event))

    def send_direct(self, text: str) -> None:
        """A frame that is not an event (acks, errors about a frame, pong)."""
        self._queue(text)

    def _queue(self, text: str) -> None:
        if self._closed:
            return
        self._unsent.append(text)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_unsent())

    async def _send_unsent(self) -> None:
        try:
            while self._unsent:
                frames, self._unsent = self._unsent, []
                for text in frames:
                    await self._send(text)
        except Exception as error:  # the socket went away: its handler is closing it
            log.debug("socket send failed session_id=%s: %r", self.session_id, error)
            self._unsent.clear()
        finally:
            self._sender = None

    async def flush(self, timeout: float) -> None:
        """Wait (up to `timeout`) until every queued frame has been sent."""
        sender = self._sender
        if sender is not None:
            await asyncio.wait([sender], timeout=timeout)

    def close(self) -> None:
        """The socket is closing: drop what is unsent and stop sending."""
        self._closed = True
        self._unsent.clear()
        if self._sender is not None:
            self._sender.cancel()

    def begin_replay(self) -> None:
        self._replaying = True

    def end_replay(self, replayed: list[StoredEvent]) -> None:
        self._replaying = False
        for event in replayed + self._held:
            self.deliver(event)
        self._held.clear()


class EventTailer:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self._subscribers: dict[int, set[Subscriber]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.wakeups: WakeupReceiver = create_wakeup_receiver(settings)
        self.last_event_id = 0

    async def start(self) -> None:
        self.last_event_id = await self._read(select_max_event_id)
        self.wakeups.start(asyncio.get_running_loop(), self._wake.set)
        self._task = asyncio.create_task(self._run(), name="event-tailer")

    async def stop(self) -> None:
        await asyncio.to_thread(self.wakeups.stop)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers[subscriber.session_id].add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        sockets = self._subscribers.get(subscriber.session_id)
        if sockets is not None:
            sockets.discard(subscriber)
            if not sockets:
                del self._subscribers[subscriber.session_id]

    def wake(self) -> None:
        """This process wrote an event: read it now."""
        self._wake.set()

    async def _read(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        return self._db.read_inline(fn, *args)

    async def _data_version(self) -> int | None:
        if not is_sqlite(self._settings.resolved_database_url):
            return None
        return await self._read(select_data_version)

    async def _run(self) -> None:
        poll_seconds = self._settings.event_poll_interval_ms / 1000
        backoff = Backoff(first=poll_seconds / 4, most=max(poll_seconds, 5.0))
        seen_version = await self._data_version()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            except TimeoutError:
                version = await self._data_version()
                if version is not None and version == seen_version:
                    continue
                seen_version = version
            self._wake.clear()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except DatabaseUnavailable:
                # Logged by the database handle, once per outage. Read again after a
                # growing pause; the position is kept, so nothing is skipped or repeated.
                await asyncio.sleep(backoff.delay())
                self._wake.set()
                continue
            except Exception:
                log.exception("event tailer read failed")
                await asyncio.sleep(poll_seconds)
            backoff.reset()

    async def _drain(self) -> None:
        while True:
            batch = await self._read(select_events_after, self.last_event_id)
            if not batch:
                return
            for event in batch:
                for subscriber in self._subscribers.get(event.session_id, ()):
                    subscriber.deliver(event)
            self.last_event_id = batch[-1].id
            if len(batch) < 500:
                return
