"""The messages table: the transcript."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from shared.clock import utc_now_iso
from shared.db.jsoncol import dumps, loads
from shared.db.schema import messages


def _message_dict(row) -> dict[str, Any]:  # noqa: ANN001
    message = dict(row._mapping)
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
    result = conn.execute(messages.insert().values(**values))
    values["id"] = result.inserted_primary_key[0]
    values["metadata"] = metadata or {}
    del values["metadata_json"]
    return values


def select_message(conn: Connection, message_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
    return _message_dict(row) if row else None


def select_message_by_client_id(conn: Connection, session_id: int, client_message_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(messages).where(messages.c.session_id == session_id, messages.c.client_message_id == client_message_id)
    ).first()
    return _message_dict(row) if row else None


def select_reply(conn: Connection, reply_to: int) -> dict[str, Any] | None:
    """The assistant reply to a trainee message, if it has been written."""
    row = conn.execute(select(messages).where(messages.c.reply_to == reply_to)).first()
    return _message_dict(row) if row else None


def select_messages(conn: Connection, session_id: int, *, up_to_id: int | None = None) -> list[dict[str, Any]]:
    """A session's messages in order, optionally only those up to and including one id."""
    query = select(messages).where(messages.c.session_id == session_id).order_by(messages.c.id)
    if up_to_id is not None:
        query = query.where(messages.c.id <= up_to_id)
    return [_message_dict(row) for row in conn.execute(query)]


def update_message_metadata(conn: Connection, message_id: int, metadata: dict[str, Any]) -> None:
    conn.execute(messages.update().where(messages.c.id == message_id).values(metadata_json=dumps(metadata)))


def count_messages_by_role(conn: Connection, session_id: int) -> dict[str, int]:
    """How many messages each role has in a session, e.g. {"assistant": 3, "user": 2}."""
    rows = conn.execute(
        select(messages.c.role, func.count()).where(messages.c.session_id == session_id).group_by(messages.c.role)
    )
    return {role: count for role, count in rows}


def count_assistant_messages_before(conn: Connection, session_id: int, message_id: int) -> int:
    """Customer lines (opening line included) stored before a message: the trainee message
    `message_id` answers customer line number this minus one."""
    return conn.execute(
        select(func.count())
        .select_from(messages)
        .where(messages.c.session_id == session_id, messages.c.role == "assistant", messages.c.id < message_id)
    ).scalar_one()
