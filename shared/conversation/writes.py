"""A conversation's shared transactions: starting a session, a trainee's message and its
reply job, a retry, the customer's lines, the reply's `typing` and deltas (with the
session's masking vault kept current), the feedback on each trainee reply, ending the session and
writing its report. (How a reply job claims, retries and expires its job is in
worker/tasks.py; the sweeps' in worker/maintenance.py.) Each is one short transaction's
worth of work; the scoring and the report's contents come from shared/training.

Both processes call these with a connection already inside a write transaction
(BEGIN IMMEDIATE on SQLite), so a read-then-write here cannot race another process. On
PostgreSQL, which runs them at READ COMMITTED, each first reads the session with its row
locked until commit (`select_session_for_update`), or the write is one conditional UPDATE
or INSERT ... ON CONFLICT that another writer waits on, so writers to one session take
turns. A session ends once: `complete_session` succeeds for exactly one caller, who then
enqueues the evaluation job; the report and its `session_complete` event are written
together, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from shared.conversation import frames
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import messages as message_rows
from shared.db import reports as report_rows
from shared.db import sessions as session_rows
from shared.db.limits import RateLimit, check_active_sessions, hit_rate_limit
from shared.lib.clock import parse_iso, utc_now
from shared.masking.client_ids import client_message_key
from shared.masking.policy import MaskedMessage, MaskingPolicy
from shared.training.completion import TRAINEE_ENDED, completion_reason, script_finished
from shared.training.report import build_report, trainee_turns
from shared.training.scoring import ReplyFeedback

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


def create_session(
    conn: Connection,
    *,
    scenario_id: int,
    user_id: str,
    opening_line: str | None,
    max_active: int = 0,
    rate_limit: RateLimit | None = None,
) -> dict[str, Any]:
    """Start a session on a scenario, with the customer's opening line when it has one.
    Returns the session's row."""
    # The limits are checked in the transaction that creates the session, so they hold
    # across web processes, and a refused request neither creates nor counts.
    check_active_sessions(conn, user_id=user_id, max_active=max_active)
    if rate_limit is not None:
        hit_rate_limit(conn, user_id=user_id, limit=rate_limit)
    session = session_rows.insert_session(conn, scenario_id=scenario_id, user_id=user_id)
    if opening_line:
        write_opening_line(conn, session_id=session["id"], content=opening_line)
    return session


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


def write_reply_delta(
    conn: Connection, *, session_id: int, message_id: int, sent: frames.SentText, text: str
) -> frames.SentText | None:
    """Append the `assistant_delta` event that takes the reply to `message_id` from what
    clients were `sent` to `text` (its masked text so far; frames.assistant_delta_event
    says what the delta carries). Returns what clients have been sent now, or None, writing
    nothing, when `text` adds nothing."""
    event = frames.assistant_delta_event(message_id, sent, text)
    if event is None:
        return None
    event_rows.insert_event(conn, session_id=session_id, frame=event, message_id=message_id)
    return frames.SentText(text, sent.next_seq + 1)


def write_typing(conn: Connection, *, session_id: int, message_id: int, claimant: str, claim_seconds: float) -> bool:
    """Claim the reply job for `claimant` and append the reply's `typing` event, unless the
    job is finished or another run has claimed it, or the reply has sent text already.
    True if written (worker/streaming.py decides when)."""
    if (
        job_rows.claim_reply_job(conn, message_id, claimant=claimant, now=time.time(), claim_seconds=claim_seconds)
        is None
    ):
        return False
    if event_rows.select_streamed_deltas(conn, session_id, message_id)[1] > 0:
        return False
    event_rows.insert_event(conn, session_id=session_id, frame=frames.typing_event(message_id), message_id=message_id)
    return True


def session_masker(conn: Connection, masking: MaskingPolicy, session_id: int, patterns: tuple) -> Callable[..., str]:
    """A mask function for the customer's reply, bound to this write transaction: the
    session's vault (its stored placeholders) is read with the row locked only when the
    text holds something to mask, and kept current."""

    def mask(text: str, found: list | None = None) -> str:
        session_data: dict = {}

        def load_session_data() -> dict:
            session_data.update(session_rows.select_session_for_update(conn, session_id)["data"])
            return session_data

        masked, findings = masking.apply_loading(text, load_session_data, patterns, found=found)
        if findings:
            session_rows.update_session_data(conn, session_id, session_data)
        return masked

    return mask


def write_error_event(conn: Connection, *, session_id: int, code: str, content: str, message_id: int | None) -> int:
    event = frames.reply_error_event(code, content, message_id)
    return event_rows.insert_event(conn, session_id=session_id, frame=event, message_id=message_id)


def store_reply_feedback(
    conn: Connection, *, session_id: int, message: dict[str, Any], feedback: ReplyFeedback
) -> dict[str, Any]:
    """Keep `feedback` in the trainee message's metadata and append its `feedback` event
    (after the reply's assistant_message event). Returns the event's payload."""
    message_id = message["id"]
    message_rows.update_message_metadata(conn, message_id, {**message["metadata"], "feedback": feedback.to_json()})
    event = frames.feedback_event(message_id, feedback.to_json())
    event_rows.insert_event(conn, session_id=session_id, frame=event, message_id=message_id)
    return event.payload


def complete_if_due(conn: Connection, scenario: Any, session_id: int, now: datetime | None = None) -> str | None:
    """After a reply: complete the session when its script is finished or its time is up.
    Returns the reason ("script_complete" or "time_up") when this call completed it; the
    caller then enqueues the evaluation."""
    session = session_rows.select_session_for_update(conn, session_id)
    if session is None or session["status"] != "active":
        return None
    counts = message_rows.count_messages_by_role(conn, session_id)
    customer_lines, trainee_lines = counts.get("assistant", 0), counts.get("user", 0)
    reason = completion_reason(
        scenario,
        exchanges=trainee_lines,
        elapsed_seconds=((now or utc_now()) - parse_iso(session["created_at"])).total_seconds(),
        script_finished=script_finished(scenario, customer_lines, trainee_lines),
    )
    if reason is not None and session_rows.complete_session(conn, session_id, ended_by=reason):
        return reason
    return None


def end_session(conn: Connection, *, session_id: int, ended_by: str = TRAINEE_ENDED) -> None:
    """The trainee ends the session. Raises ConversationError("session_completed") when it
    has already ended, so a second end_session never evaluates twice."""
    if session_rows.select_session(conn, session_id) is None:
        raise ConversationError("session_not_found", "This session does not exist.")
    if not session_rows.complete_session(conn, session_id, ended_by=ended_by):
        raise ConversationError(
            "session_completed",
            f"This session has already ended; its report is at /api/sessions/{session_id}/report.",
        )


def write_report(
    conn: Connection, scenario: Any, session: dict[str, Any], *, llm_grading: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Build a completed session's report from its stored transcript, store it, and
    append the `session_complete` event, all once: returns None when the session is not
    completed or already has its report. `llm_grading`, when the LLM graded the session
    (worker/evaluation.py), is kept next to the deterministic scores, which stay the
    report's own."""
    session_id = session["id"]
    if session["status"] != "completed" or report_rows.select_report(conn, session_id) is not None:
        return None
    report = build_report(
        scenario,
        trainee_turns(message_rows.select_messages(conn, session_id)),
        started_at=session["created_at"],
        ended_at=session["completed_at"],
        ended_by=session["ended_by"] or TRAINEE_ENDED,
    )
    report["llm_grading"] = llm_grading
    if not report_rows.insert_report(conn, session_id, report):
        return None
    event_rows.insert_event(conn, session_id=session_id, frame=frames.session_complete_event(session_id, report))
    return report
