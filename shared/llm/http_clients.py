"""A set of small httpx connection pools used as one.

httpcore's pool, on every request and every response closed, looks at each of its
connections (polling each idle one's socket) and compares each idle one with all the
others: work that grows with the square of its size. With a few connections that is
nothing; with the hundreds of streams a worker holds at once it was a large share of
the worker's CPU (docs/performance.md, Design measurements). So the provider's
connections are spread over pools of at most POOL_CONNECTIONS each, and a request goes
to the pool with the fewest requests in progress."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

POOL_CONNECTIONS = 8


class HTTPClients:
    def __init__(self, *, max_connections: int, timeout_seconds: float):
        count = max(1, math.ceil(max_connections / POOL_CONNECTIONS))
        per_pool = math.ceil(max_connections / count)
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        # One TLS context for all the pools: each context loads and holds the CA bundle
        # again (docs/performance.md, Design measurements).
        tls = httpx.create_ssl_context()
        self._clients = [
            httpx.Client(timeout=httpx.Timeout(timeout_seconds), limits=limits, verify=tls) for _ in range(count)
        ]
        self._in_use = [0] * count
        self._lock = threading.Lock()

    @contextmanager
    def one(self) -> Iterator[httpx.Client]:
        """The least busy client, counted as busy until the block ends."""
        with self._lock:
            index = min(range(len(self._clients)), key=self._in_use.__getitem__)
            self._in_use[index] += 1
        try:
            yield self._clients[index]
        finally:
            with self._lock:
                self._in_use[index] -= 1

    def close(self) -> None:
        for client in self._clients:
            client.close()


class OneClient:
    """A caller's own client, used as is (tests hand one in)."""

    def __init__(self, client: httpx.Client):
        self._client = client

    @contextmanager
    def one(self) -> Iterator[httpx.Client]:
        yield self._client

    def close(self) -> None:
        """Left open: it belongs to the caller."""
