"""The events table: an append-only log of the frames the server sends to a session's
sockets. The web process tails it by id, across sessions; a client sees each event's
number within its own session (`seq`, sent as `event_id`) and resumes from that.

Both readers need what they read to come in commit order, so that moving past an event
never moves past one that commits later. SQLite gives that for free (one writer at a
time). On PostgreSQL (docs/postgresql.md):
- `seq` is taken with the session's row locked until commit, so within a session seq
  order is commit order and a replay (`?after=`) cannot miss one;
- ids come from a sequence at insert time, so a transaction can commit id 4 while id 3
  is still in flight; the tailer's read (`select_events_after`) stops at such a gap and
  holds there until the transaction holding it has ended (`_GapWatch`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text

from shared.db.jsoncol import dumps, loads
from shared.db.prepared import Prepared
from shared.db.schema import events, sessions
from shared.db.sessions import holds_session_lock
from shared.lib.clock import utc_now_iso


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    session_id: int
    type: str
    payload_json: str
    seq: int


_EVENT_COLUMNS = (events.c.id, events.c.session_id, events.c.type, events.c.payload_json, events.c.seq)

# The statements that run for every chat message are prepared once (shared/db/prepared.py).
# The next seq is taken in the inserting transaction; SQLite runs one writer at a time, so
# no two events of a session get the same one (the unique index would refuse it).
_INSERTED_COLUMNS = ("session_id", "type", "message_id", "payload_json", "created_at")
_INSERT = Prepared(
    events.insert()
    .values(
        {
            **{name: bindparam(f"b_{name}") for name in _INSERTED_COLUMNS},
            "seq": select(func.coalesce(func.max(events.c.seq), 0) + 1)
            .where(events.c.session_id == bindparam("b_session_id"))
            .scalar_subquery(),
        }
    )
    .returning(events.c.id)
)
# PostgreSQL only: the session's row, locked until commit, before its next seq is read
# (a separate statement, so that the read's snapshot comes after the wait). Taking the
# lock also gives the transaction its id before it draws an event id (see _GapWatch).
_LOCK_SESSION = Prepared(
    select(sessions.c.id).where(sessions.c.id == bindparam("b_session_id")).with_for_update(key_share=True)
)
_AFTER = Prepared(
    select(*_EVENT_COLUMNS).where(events.c.id > bindparam("after_id")).order_by(events.c.id).limit(bindparam("limit"))
)
_SESSION_AFTER = Prepared(
    select(*_EVENT_COLUMNS)
    .where(events.c.session_id == bindparam("session_id"), events.c.seq > bindparam("after_seq"))
    .order_by(events.c.seq)
)
_SESSION_LAST_SEQ = Prepared(
    select(func.coalesce(func.max(events.c.seq), 0)).where(events.c.session_id == bindparam("session_id"))
)
_DELTAS = Prepared(
    select(events.c.payload_json)
    .where(
        events.c.session_id == bindparam("session_id"),
        events.c.message_id == bindparam("message_id"),
        events.c.type == "assistant_delta",
    )
    .order_by(events.c.id)
)


def insert_event(
    conn: Connection, *, session_id: int, frame: tuple[str, dict[str, Any]], message_id: int | None = None
) -> int:
    """Append one event, `frame` being its type and payload (an EventFrame built in
    shared/conversation/frames.py); returns its id."""
    type, payload = frame
    if conn.dialect.name == "postgresql" and not holds_session_lock(conn, session_id):
        _LOCK_SESSION.run(conn, {"b_session_id": session_id})
    return _INSERT.scalar(
        conn,
        {
            "b_session_id": session_id,
            "b_type": type,
            "b_message_id": message_id,
            "b_payload_json": dumps(payload),
            "b_created_at": utc_now_iso(),
        },
    )


def select_events_after(conn: Connection, after_id: int, *, limit: int = 500) -> list[StoredEvent]:
    """Every session's events with id > after_id, oldest first (what the tailer reads).

    On PostgreSQL, only up to the first id that may still commit (see _GapWatch): the
    caller can move its cursor to the last event returned without ever skipping one."""
    rows = _AFTER.all(conn, {"after_id": after_id, "limit": limit})
    found = [StoredEvent(*row) for row in rows]
    if conn.dialect.name != "postgresql" or not found:
        return found
    return _gaps.committed_prefix(conn, after_id, found, limit)


# The transaction ids running now in this database (every transaction holds an exclusive
# lock on its own id until it ends; subtransactions' ids too, which only makes the answer
# cautious). Other databases on the server are left out: their transactions cannot hold
# one of our ids, and a long one there must not hold our tailer.
_RUNNING_XIDS = text(
    "SELECT coalesce(array_agg(l.transactionid::text::bigint), '{}') FROM pg_locks AS l "
    "JOIN pg_stat_activity AS a ON a.pid = l.pid "
    "WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted "
    "AND a.datname = current_database()"
)


class _GapWatch:
    """Holds the tailer at a gap in event ids until no transaction can fill it.

    A gap at id g below a committed id means the transaction that drew g from the
    sequence (before the committed one drew its own) has not committed: it is running,
    or it rolled back and g stays empty for good. That transaction had its transaction
    id before it drew g (insert_event locks the session row first, which assigns one),
    so it is among the transactions running when the gap is first seen. Once none of
    those is still running, it has ended: whatever it committed is visible to the next
    read, and the rest of the gap is empty for good. (Not the snapshot's xmin against its
    xmax: a snapshot leaves out running transactions newer than the last one to finish.)

    So the tailer holds only while a transaction that was already running is still
    running: normally the rest of a short write transaction; after a rollback, until the next read.
    Kept per process (the tailer's reads), keyed by database and id."""

    def __init__(self) -> None:
        self._first_seen: dict[tuple[str, int], frozenset[int]] = {}  # (database, gap start) -> xids running then
        self._lock = threading.Lock()

    def committed_prefix(
        self, conn: Connection, after_id: int, found: list[StoredEvent], limit: int
    ) -> list[StoredEvent]:
        database = conn.engine.url.render_as_string(hide_password=True)
        self._forget_below(database, after_id)
        result: list[StoredEvent] = []
        expected, index = after_id + 1, 0
        while index < len(found):
            event = found[index]
            if event.id == expected:
                result.append(event)
                expected, index = expected + 1, index + 1
                continue
            if not self._settled(conn, database, expected):
                return result
            # The gap's transactions have ended: read again from it, which now shows what
            # they committed; ids below `event` still missing are empty for good.
            with self._lock:
                self._first_seen.pop((database, expected), None)
            rows = _AFTER.all(conn, {"after_id": expected - 1, "limit": limit - len(result)})
            found, index = [StoredEvent(*row) for row in rows], 0
            while index < len(found) and found[index].id < event.id:
                result.append(found[index])
                index += 1
            expected = event.id
        return result

    def _settled(self, conn: Connection, database: str, gap_start: int) -> bool:
        key = (database, gap_start)
        running = frozenset(conn.execute(_RUNNING_XIDS).scalar_one())
        with self._lock:
            first = self._first_seen.setdefault(key, running)
        return first is not running and not (first & running)

    def _forget_below(self, database: str, after_id: int) -> None:
        with self._lock:
            for key in [key for key in self._first_seen if key[0] == database and key[1] <= after_id]:
                del self._first_seen[key]


_gaps = _GapWatch()


def select_session_events_after(conn: Connection, session_id: int, after_seq: int) -> list[StoredEvent]:
    """One session's events with seq > after_seq, oldest first (what a reconnect replays)."""
    rows = _SESSION_AFTER.all(conn, {"session_id": session_id, "after_seq": after_seq})
    return [StoredEvent(*row) for row in rows]


def select_session_last_seq(conn: Connection, session_id: int) -> int:
    """The seq of the session's newest event; 0 before its first."""
    return _SESSION_LAST_SEQ.scalar(conn, {"session_id": session_id})


def select_session_replay(conn: Connection, session_id: int, after_seq: int) -> tuple[int, list[StoredEvent]]:
    """What a socket resuming after `after_seq` is owed: its cursor and the events after it.

    A cursor beyond the session's newest event (made up, or another session's) becomes
    the newest, so that the session's next events are not taken for ones already seen."""
    cursor = min(after_seq, select_session_last_seq(conn, session_id))
    return cursor, select_session_events_after(conn, session_id, cursor)


# How far back the tailer's starting point looks for ids still in flight (PostgreSQL).
_START_LOOKBACK_IDS = 1000


def select_max_event_id(conn: Connection) -> int:
    """Where the tailer starts: the newest event's id. On PostgreSQL, just before the
    first gap among the last ids instead, so that an event still in flight when the
    process starts is read once it commits (select_events_after holds at the gap)."""
    newest = conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
    if conn.dialect.name != "postgresql" or newest == 0:
        return newest
    ids = (
        conn.execute(select(events.c.id).where(events.c.id > newest - _START_LOOKBACK_IDS).order_by(events.c.id))
        .scalars()
        .all()
    )
    for before, after in pairwise(ids):
        if after != before + 1:
            return before
    return newest


def select_streamed_deltas(conn: Connection, session_id: int, message_id: int) -> tuple[str, int]:
    """The text already streamed for the reply to `message_id` and the next delta seq.

    A delta with `restart` set discards what came before it."""
    rows = _DELTAS.all(conn, {"session_id": session_id, "message_id": message_id})
    text, next_seq = "", 0
    for (payload_json,) in rows:
        payload = loads(payload_json, {})
        text = payload["content"] if payload.get("restart") else text + payload["content"]
        next_seq = payload["seq"] + 1
    return text, next_seq


def select_data_version(conn: Connection) -> int:
    """SQLite's counter of commits by other connections: unchanged means nothing new."""
    return conn.exec_driver_sql("PRAGMA data_version").scalar_one()
