"""What a process says and does while a server it needs (the database, Redis) is away.

An outage is logged once when it starts, at most once every `REMIND_SECONDS` while it
lasts (with how many calls failed meanwhile), and once when it ends: an operator reads
three lines, not a traceback per failed call. Whoever retries waits a growing, jittered
delay (`Backoff`), so processes that lost the same server do not come back in step."""

from __future__ import annotations

import logging
import random
import threading
import time

# While an outage lasts, one reminder per process at most this often.
REMIND_SECONDS = 10.0


class Outage:
    """The state of one backend as one process sees it: up, or away since when."""

    def __init__(self, log: logging.Logger, what: str, *, remind_seconds: float = REMIND_SECONDS):
        self._log = log
        self.what = what
        self._remind_seconds = remind_seconds
        self._lock = threading.Lock()
        self.down_since: float | None = None  # monotonic
        self._failures = 0
        self._reminded_at = 0.0
        self.last_error = ""

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException | str) -> None:
        """A call to the backend failed because it could not be reached."""
        reason = _one_line(error)
        now = time.monotonic()
        with self._lock:
            self.last_error = reason
            self._failures += 1
            if self.down_since is None:
                self.down_since = self._reminded_at = now
                self._failures = 1
                self._log.error("%s unreachable: %s", self.what, reason)
            elif now - self._reminded_at >= self._remind_seconds:
                self._reminded_at = now
                self._log.error(
                    "%s still unreachable after %.0f s (%d failed calls): %s",
                    self.what,
                    now - self.down_since,
                    self._failures,
                    reason,
                )

    def succeeded(self) -> None:
        """A call to the backend went through (cheap when it was up already)."""
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            away = time.monotonic() - self.down_since
            self.down_since = None
            self._log.warning("%s reachable again after %.1f s (%d failed calls)", self.what, away, self._failures)


class Backoff:
    """Delays between retries: doubling from `first` up to `most`, each drawn between half
    and all of that (jitter), back to `first` after `reset()`."""

    def __init__(self, first: float = 0.2, most: float = 5.0):
        self._first, self._most = first, most
        self._next = first

    def delay(self) -> float:
        ceiling = self._next
        self._next = min(self._next * 2, self._most)
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._next = self._first


def _one_line(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else (str(error) or type(error).__name__)
    line = (text.strip().splitlines() or [""])[0]
    return line[:300]
