"""Per-user abuse limits that hold across every web process: fixed-window counters in the
rate_limit_hits table, and the cap on open sessions.

Call these inside the write transaction that does the limited work (storing the message,
creating the session). A refused request raises, the transaction rolls back, and so the
refusal neither stores anything nor counts as a hit. Under SQLite's BEGIN IMMEDIATE the
read-increment-check cannot race another process; on PostgreSQL the counter's upsert is
one atomic statement (a second writer waits on the row and counts on from its value), and
the open-sessions count runs under an advisory lock on the user held to the commit.

A fixed window is the simplest counter that needs one row: its known weakness is that a
client can spend a whole window's allowance just before a boundary and another just
after, so the worst burst is twice the limit inside one window's length."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete

from shared.db import advisory
from shared.db.prepared import Prepared, upsert_insert
from shared.db.schema import rate_limit_hits
from shared.db.sessions import count_active_sessions


@dataclass(frozen=True)
class RateLimit:
    """At most `max_hits` of `action` per user per `window_seconds`; 0 hits: no limit."""

    action: str
    max_hits: int
    window_seconds: int


class LimitExceeded(Exception):
    """A user is over a limit. `retry_after_seconds` is None when waiting alone will not
    help (too many open sessions: end one)."""

    def __init__(self, code: str, detail: str, retry_after_seconds: int | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


def _build_increment(dialect_name: str):  # noqa: ANN202
    table = rate_limit_hits
    key_columns = ("user_id", "action", "window_start")
    return (
        upsert_insert(dialect_name)(table)
        .values({**{name: bindparam(f"b_{name}") for name in key_columns}, "count": 1})
        .on_conflict_do_update(index_elements=list(key_columns), set_={"count": table.c.count + 1})
        .returning(table.c.count)
    )


# One statement adds the hit and returns the count; it runs for every trainee message.
_INCREMENT = Prepared(_build_increment)
# The first hit of a window drops the user's older windows. That is the first message
# after a quiet minute, when every step of the path runs slower (caches gone cold): built
# with SQLAlchemy at call time, this delete ran at SQLAlchemy's speed from cold caches
# (docs/performance.md, Design measurements).
_PRUNE = Prepared(
    delete(rate_limit_hits).where(
        rate_limit_hits.c.user_id == bindparam("b_user_id"),
        rate_limit_hits.c.action == bindparam("b_action"),
        rate_limit_hits.c.window_start < bindparam("b_window_start"),
    )
)


def hit_rate_limit(conn: Connection, *, user_id: str, limit: RateLimit, now: float | None = None) -> int:
    """Count one `limit.action` by `user_id`; raise LimitExceeded("rate_limited") when it
    goes over the limit. Returns the window's count so far."""
    if limit.max_hits <= 0:
        return 0
    now = time.time() if now is None else now
    window_start = window_start_of(limit, now)
    key = {"b_user_id": user_id, "b_action": limit.action, "b_window_start": window_start}
    count = _INCREMENT.scalar(conn, key)
    if count == 1:
        # First hit of a new window: the user's older windows for this action are dead.
        _PRUNE.run(conn, key)
    if count > limit.max_hits:
        raise over_limit(limit, window_start, now)
    return count


def window_start_of(limit: RateLimit, now: float) -> int:
    """The start (epoch seconds) of the fixed window `now` falls in."""
    return int(now // limit.window_seconds) * limit.window_seconds


def over_limit(limit: RateLimit, window_start: int, now: float) -> LimitExceeded:
    """The error for a caller over `limit` in the window starting at `window_start`: a
    sentence naming the limit, and the seconds until the window ends."""
    retry_after = max(1, math.ceil(window_start + limit.window_seconds - now))
    return LimitExceeded(
        "rate_limited",
        f"Too many {limit.action.replace('_', ' ')}s: at most {limit.max_hits} per {limit.window_seconds} seconds. "
        f"Try again in {retry_after} seconds.",
        retry_after,
    )


def check_active_sessions(conn: Connection, *, user_id: str, max_active: int) -> None:
    """Raise LimitExceeded("too_many_active_sessions") when the user already has
    `max_active` open sessions (0: no cap)."""
    if max_active <= 0:
        return
    # Held until the session is stored and committed: a second web process's count waits.
    advisory.lock_user_for_transaction(conn, user_id)
    if count_active_sessions(conn, user_id) >= max_active:
        raise LimitExceeded(
            "too_many_active_sessions",
            f"You already have {max_active} open sessions, the most allowed; end one before starting another.",
        )
