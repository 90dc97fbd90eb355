"""Failed attempts per client address, counted in this process's memory.

Wrong sign-in codes are refused by a read alone (web/blueprints/sign_in.py), so counting
them in the database would put back the write each guess used to cost; the counter
lives here instead, in fixed windows like the per-user limits (shared/db/limits.py).
The trade-off, written down in docs/security.md: each web process keeps its own count,
so with N processes behind a balancer an address gets up to N times the limit, and a
restart forgets the counts. That bounds what guessing costs the database, which is what
the limit is for: a 256-bit code cannot be guessed at any of these rates.

An IPv6 client is counted by its /64, the block one subscriber usually holds, so that
stepping through addresses inside it does not reset the count."""

from __future__ import annotations

import ipaddress
import time

from shared.db.limits import RateLimit, over_limit, window_start_of

# Addresses counted in one window at most: memory stays bounded (about 100 bytes each)
# however many addresses fail at once. Beyond it a new address is not counted, which
# costs the database only the read each of its attempts makes anyway.
MAX_ADDRESSES = 100_000


def address_key(address: str | None) -> str:
    """What an address is counted as: an IPv4 address itself, an IPv6 address's /64, and
    anything else (no address, a Unix socket) as it is."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d from a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AddressFailures:
    """At most `limit.max_hits` failures per address per window, in this process (0: no
    limit). `check` before the attempt, `record` after one that failed."""

    def __init__(self, limit: RateLimit):
        self.limit = limit
        self._window_start = 0
        self._counts: dict[str, int] = {}

    def _counts_now(self, now: float) -> dict[str, int]:
        window_start = window_start_of(self.limit, now)
        if window_start != self._window_start:
            self._window_start, self._counts = window_start, {}  # the old window's counts are dead
        return self._counts

    def check(self, address: str | None, now: float | None = None) -> None:
        """Raise LimitExceeded("rate_limited", with the seconds to wait) when the address
        has used up the window's failures."""
        if self.limit.max_hits <= 0:
            return
        now = time.time() if now is None else now
        if self._counts_now(now).get(address_key(address), 0) >= self.limit.max_hits:
            raise over_limit(self.limit, self._window_start, now)

    def record(self, address: str | None, now: float | None = None) -> None:
        """Count one failure from the address."""
        if self.limit.max_hits <= 0:
            return
        counts = self._counts_now(time.time() if now is None else now)
        key = address_key(address)
        if key in counts or len(counts) < MAX_ADDRESSES:
            counts[key] = counts.get(key, 0) + 1
