"""The events table: an append-only log of the frames the server sends to a session's
sockets. The web process tails it by id, across sessions; a client sees each event's
number within its own session (`seq`, sent as `event_id`) and resumes from that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from shared.clock import utc_now_iso
from shared.db.jsoncol import dumps, loads
from shared.db.prepared import Prepared
from shared.db.schema import events


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    session_id: int
    type: str
    payload_json: str
    seq: int

    def frame_text(self) -> str:
        """The WebSocket frame: the payload with its type and event_id, serialised once.

        The payload is stored as a JSON object, so the frame is built by splicing text
        rather than parsing and re-serialising it for every socket."""
        body = self.payload_json[1:-1]
        separator = "," if body else ""
        return f'{{"type":"{self.type}","event_id":{self.seq}{separator}{body}}}'


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
    conn: Connection, *, session_id: int, type: str, payload: dict[str, Any], message_id: int | None = None
) -> int:
    """Append one event; returns its id."""
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
    """Every session's events with id > after_id, oldest first (what the tailer reads)."""
    rows = _AFTER.all(conn, {"after_id": after_id, "limit": limit})
    return [StoredEvent(*row) for row in rows]


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


def select_max_event_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()


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
