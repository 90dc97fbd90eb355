"""The model's slots in one worker process: at most `limit` calls to the LLM provider at
once (CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS), so a deployment can keep within its
model's rate limits. Counts the calls in progress and those waiting for a slot, which
the heartbeat publishes for /api/health."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ModelSlots:
    def __init__(self, limit: int):
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._counts = threading.Lock()
        self.in_use = 0
        self.waiting = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for a slot, hold it for the body, give it back."""
        self._count(waiting=1)
        try:
            self._slots.acquire()
        finally:
            self._count(waiting=-1)
        self._count(in_use=1)
        try:
            yield
        finally:
            self._count(in_use=-1)
            self._slots.release()

    def _count(self, *, waiting: int = 0, in_use: int = 0) -> None:
        with self._counts:
            self.waiting += waiting
            self.in_use += in_use
