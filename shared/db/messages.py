"""The messages table: the transcript."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from shared.db.jsoncol import dumps, loads
from shared.db.prepared import Prepared
from shared.db.schema import messages
from shared.lib.clock import utc_now_iso

# The statements that run for every chat message are prepared once (shared/db/prepared.py).
_INSERT = Prepared(
    messages.insert()
    .values(
        {
            name: bindparam(f"b_{name}")
            for name in ("session_id", "role", "content", "timestamp", "metadata_json", "reply_to", "client_message_id")
        }
    )
    .returning(messages.c.id)
)
_BY_ID = Prepared(select(messages).where(messages.c.id == bindparam("message_id")))
_BY_CLIENT_ID = Prepared(
    select(messages).where(
        messages.c.session_id == bindparam("session_id"),
        messages.c.client_message_id == bindparam("client_message_id"),
    )
)
_REPLY = Prepared(select(messages).where(messages.c.reply_to == bindparam("reply_to")))
_LAST_BY_ROLE = Prepared(
    select(messages)
    .where(messages.c.session_id == bindparam("session_id"), messages.c.role == bindparam("role"))
    .order_by(messages.c.id.desc())
    .limit(1)
)
_RECENT = Prepared(
    select(messages.c.role, messages.c.content)
    .where(messages.c.session_id == bindparam("session_id"), messages.c.id <= bindparam("up_to_id"))
    .order_by(messages.c.id.desc())
    .limit(bindparam("limit"))
)
_ASSISTANT_BEFORE = Prepared(
    select(func.count())
    .select_from(messages)
    .where(
        messages.c.session_id == bindparam("session_id"),
        messages.c.role == "assistant",
        messages.c.id < bindparam("message_id"),
    )
)
_COUNT_BY_ROLE = Prepared(
    select(messages.c.role, func.count())
    .where(messages.c.session_id == bindparam("session_id"))
    .group_by(messages.c.role)
)
_SET_METADATA = Prepared(
    messages.update().where(messages.c.id == bindparam("message_id")).values(metadata_json=bindparam("b_metadata_json"))
)
_SET_CONTENT = Prepared(
    messages.update()
    .where(messages.c.id == bindparam("message_id"))
    .values(content=bindparam("b_content"), metadata_json=bindparam("b_metadata_json"))
)


def _message_dict(row) -> dict[str, Any]:  # noqa: ANN001
    message = row if isinstance(row, dict) else dict(row._mapping)
    message["metadata"] = loads(message.pop("metadata_json"), {})
    return message


def insert_message(
    conn: Connection,
    *,
    session_id: int,
    role: str,
    content: str,
    metadata: dict[str, Any] | None = None,
    reply_to: int | None = None,
    client_message_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """Insert a message and return it. Callers check for a duplicate client_message_id or
    reply_to first, inside the same transaction."""
    values = {
        "session_id": session_id,
        "role": role,
        "content": content,
        "timestamp": timestamp or utc_now_iso(),
        "metadata_json": dumps(metadata or {}),
        "reply_to": reply_to,
        "client_message_id": client_message_id,
    }
    values["id"] = _INSERT.scalar(conn, {f"b_{name}": value for name, value in values.items()})
    values["metadata"] = metadata or {}
    del values["metadata_json"]
    return values


def select_message(conn: Connection, message_id: int) -> dict[str, Any] | None:
    row = _BY_ID.one(conn, {"message_id": message_id})
    return _message_dict(row) if row else None


def select_message_by_client_id(conn: Connection, session_id: int, client_message_id: str) -> dict[str, Any] | None:
    row = _BY_CLIENT_ID.one(conn, {"session_id": session_id, "client_message_id": client_message_id})
    return _message_dict(row) if row else None


def select_reply(conn: Connection, reply_to: int) -> dict[str, Any] | None:
    """The assistant reply to a trainee message, if it has been written."""
    row = _REPLY.one(conn, {"reply_to": reply_to})
    return _message_dict(row) if row else None


def select_last_message(conn: Connection, session_id: int, *, role: str) -> dict[str, Any] | None:
    """A session's latest message from `role` ("user" or "assistant"), if any."""
    row = _LAST_BY_ROLE.one(conn, {"session_id": session_id, "role": role})
    return _message_dict(row) if row else None


def select_messages(conn: Connection, session_id: int, *, up_to_id: int | None = None) -> list[dict[str, Any]]:
    """A session's messages in order, optionally only those up to and including one id."""
    query = select(messages).where(messages.c.session_id == session_id).order_by(messages.c.id)
    if up_to_id is not None:
        query = query.where(messages.c.id <= up_to_id)
    return [_message_dict(row) for row in conn.execute(query)]


def select_recent_history(conn: Connection, session_id: int, up_to_id: int, *, limit: int) -> list[tuple[str, str]]:
    """(role, content) of the last `limit` messages up to and including `up_to_id`, oldest
    first: what an LLM needs as context, without re-reading a long transcript."""
    rows = _RECENT.all(conn, {"session_id": session_id, "up_to_id": up_to_id, "limit": limit})
    return [(role, content) for role, content in reversed(rows)]


def update_message_metadata(conn: Connection, message_id: int, metadata: dict[str, Any]) -> None:
    _SET_METADATA.run(conn, {"message_id": message_id, "b_metadata_json": dumps(metadata)})


def update_message_content(conn: Connection, message_id: int, content: str, metadata: dict[str, Any]) -> None:
    """Rewrite a stored message's text, for masking that only a later message made
    possible (a value split over two messages)."""
    _SET_CONTENT.run(conn, {"message_id": message_id, "b_content": content, "b_metadata_json": dumps(metadata)})


def count_messages_by_role(conn: Connection, session_id: int) -> dict[str, int]:
    """How many messages each role has in a session, e.g. {"assistant": 3, "user": 2}."""
    rows = _COUNT_BY_ROLE.all(conn, {"session_id": session_id})
    return {role: count for role, count in rows}


def count_assistant_messages_before(conn: Connection, session_id: int, message_id: int) -> int:
    """Customer lines (opening line included) stored before a message: the trainee message
    `message_id` answers customer line number this minus one."""
    return _ASSISTANT_BEFORE.scalar(conn, {"session_id": session_id, "message_id": message_id})
