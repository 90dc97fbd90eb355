"""A blocking call to another server (the database, Redis), awaited for a bounded time
and never stacked: for the probes and /metrics, which must answer quickly however the
server behaves.

A server that hangs (packets dropped, not refused) keeps a thread waiting until the
driver's own timeout, which may be many seconds. The caller stops waiting after
`timeout_seconds`; the call goes on in its thread, and until it has ended no second call
is started (the answer is "still waiting"), so probes every second cannot fill the
thread pool with calls to a dead server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from shared.db.engine import DatabaseUnavailable


class CallFailed(Exception):
    """The call failed or did not answer in time; the message says which, without the
    server's address or the driver's text (a readiness body is shown to anyone)."""


class BoundedCall:
    def __init__(self, what: str, timeout_seconds: float):
        self.what = what
        self.timeout_seconds = timeout_seconds
        self._pending: asyncio.Future | None = None
        self._started = 0.0

    async def __call__(self, start: Callable[[], Awaitable[Any]]) -> Any:
        """Await `start()` (a coroutine or future doing the blocking work off the event
        loop) for at most the timeout; CallFailed when it fails, times out, or the
        previous call has not ended yet."""
        pending = self._pending
        if pending is not None and not pending.done():
            waited = time.monotonic() - self._started
            raise CallFailed(f"{self.what}: the previous check has not answered after {waited:.0f} s")
        self._pending = pending = asyncio.ensure_future(start())
        self._started = time.monotonic()
        # Whoever stopped waiting, the outcome is collected (no "never retrieved" warning).
        pending.add_done_callback(lambda done: None if done.cancelled() else done.exception())
        try:
            return await asyncio.wait_for(asyncio.shield(pending), self.timeout_seconds)
        except TimeoutError:
            raise CallFailed(f"{self.what}: no answer within {self.timeout_seconds:g} s") from None
        except DatabaseUnavailable:
            raise CallFailed(f"{self.what}: unreachable") from None
        except Exception as error:  # noqa: BLE001  # any failure fails the check; the type says enough
            raise CallFailed(f"{self.what}: {_kind(error)}") from None


def _kind(error: Exception) -> str:
    """A failure named by its type (ConnectionError, TimeoutError, ...), not its text."""
    name = type(error).__name__
    if isinstance(error, (ConnectionError, OSError)) or "Connection" in name:
        return f"unreachable ({name})"
    if "Timeout" in name:
        return f"timed out ({name})"
    return f"failed ({name})"
