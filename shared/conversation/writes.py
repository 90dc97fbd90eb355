"""The conversation's write paths, each one short transaction's worth of work.

Both processes call these with a connection already inside a write transaction
(BEGIN IMMEDIATE on SQLite), so a read-then-write here cannot race another process. On
PostgreSQL, which runs them at READ COMMITTED, each first reads the session with its row
locked until commit (`select_session_for_update`), so writers to one session take turns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from shared.conversation import frames
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.db.limits import RateLimit, hit_rate_limit
from shared.masking.client_ids import client_message_key
from shared.masking.policy import MaskedMessage, MaskingPolicy

# What a trainee is told when they write to a session that has ended.
SESSION_ENDED = "This session has ended; start a new one to keep practising."


class ConversationError(Exception):
    """A socket frame that cannot be done: malformed (web/client_frames.py) or not allowed in the
    conversation's state. `code` and `message` go to the client in an error frame."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AcceptedMessage:
    message_id: int
    duplicate: bool


def accept_trainee_message(
    conn: Connection,
    *,
    session_id: int,
    content: str,
    client_message_id: str | None,
    masking: MaskingPolicy,
    scenario_patterns: tuple = (),
    reply_expiry_seconds: float,
    rate_limit: RateLimit | None = None,
    found: list | None = None,
) -> AcceptedMessage:
    """Store a trainee message (masked) and its reply job. A value split between the
    session's previous trainee message and this one is masked in both (docs/masking.md).

    A resend with a client_message_id already stored is acknowledged with the original
    message's id and stores nothing. The id is stored only as a keyed digest
    (shared/masking/client_ids.py); the caller echoes it from the frame it answers. With
    `rate_limit`, a message over the session owner's limit raises LimitExceeded, so the
    caller's transaction stores nothing.
    `found` is `masking.find(content, scenario_patterns)`, run before the transaction so
    the write lock is not held for it."""
    session = session_rows.select_session_for_update(conn, session_id)
    if session is None:
        raise ConversationError("session_not_found", "This session does not exist.")
    if session["status"] != "active":
        raise ConversationError("session_completed", SESSION_ENDED)
    client_key = None
    if client_message_id is not None:
        client_key = client_message_key(masking.secret, session_id, client_message_id)
        existing = message_rows.select_message_by_client_id(conn, session_id, client_key)
        if existing is not None:
            return AcceptedMessage(message_id=existing["id"], duplicate=True)
    if rate_limit is not None:
        hit_rate_limit(conn, user_id=session["user_id"], limit=rate_limit)
    data = session["data"]
    # Read before the insert, or the latest trainee message would be this one.
    previous = message_rows.select_last_message(conn, session_id, role="user") if masking.enabled else None
    masked = masking.apply_after(previous and previous["content"], content, data, scenario_patterns, found=found)
    metadata = {"masking": masked.findings} if masked.findings else {}
    message = message_rows.insert_message(
        conn,
        session_id=session_id,
        role="user",
        content=masked.text,
        metadata=metadata,
        client_message_id=client_key,
    )
    if masked.previous_text is not None:
        _mask_previous_message(conn, previous, masked)
    job_rows.insert_reply_job(
        conn, message_id=message["id"], session_id=session_id, now=time.time(), expiry_seconds=reply_expiry_seconds
    )
    if masked.findings or masked.previous_findings:
        session_rows.update_session_data(conn, session_id, data)
    session_rows.touch_session(conn, session_id)
    return AcceptedMessage(message_id=message["id"], duplicate=False)


def _mask_previous_message(conn: Connection, previous: dict[str, Any], masked: MaskedMessage) -> None:
    """Put the placeholder of a value split over two messages into the first one too. Its
    new findings' offsets refer to its text as stored before this rewrite."""
    metadata = previous["metadata"]
    findings = [*metadata.get("masking", []), *masked.previous_findings]
    message_rows.update_message_content(conn, previous["id"], masked.previous_text, {**metadata, "masking": findings})


def retry_reply(conn: Connection, *, session_id: int, message_id: int, reply_expiry_seconds: float) -> None:
    """Queue a failed or expired reply again at the trainee's request."""
    session = session_rows.select_session_for_update(conn, session_id)
    if session is not None and session["status"] != "active":
        raise ConversationError("session_completed", SESSION_ENDED)
    job = job_rows.select_reply_job(conn, message_id)
    if job is None or job["session_id"] != session_id:
        raise ConversationError("message_not_found", "No trainee message with that id in this session.")
    if job["status"] in ("queued", "working"):
        raise ConversationError("reply_in_progress", "A reply to that message is already on its way.")
    if job["status"] == "done":
        raise ConversationError("already_answered", "That message already has its reply.")
    job_rows.requeue_reply_job(conn, message_id, now=time.time(), expiry_seconds=reply_expiry_seconds)


def write_opening_line(conn: Connection, *, session_id: int, content: str) -> int:
    """Store the customer's opening line and its event when a session is created."""
    return write_customer_message(conn, session_id=session_id, content=content)["id"]


def write_customer_message(
    conn: Connection,
    *,
    session_id: int,
    content: str,
    reply_to: int | None = None,
    metadata: dict[str, Any] | None = None,
    tokens: int = 0,
) -> dict[str, Any]:
    """Store a customer line (the opening line, or the reply to the trainee's message
    `reply_to`) and the `assistant_message` event that delivers it; returns the message row.
    A reply's event is keyed by the trainee's message, which it answers exactly once."""
    message = message_rows.insert_message(
        conn, session_id=session_id, role="assistant", content=content, metadata=metadata, reply_to=reply_to
    )
    event = frames.assistant_message_event(
        message_id=message["id"], content=content, timestamp=message["timestamp"], reply_to=reply_to, tokens=tokens
    )
    event_rows.insert_event(conn, session_id=session_id, frame=event, message_id=reply_to or message["id"])
    return message


def write_error_event(conn: Connection, *, session_id: int, code: str, content: str, message_id: int | None) -> int:
    event = frames.reply_error_event(code, content, message_id)
    return event_rows.insert_event(conn, session_id=session_id, frame=event, message_id=message_id)
