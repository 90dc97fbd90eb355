"""The training loop's write paths: feedback on each trainee reply, ending a session, and
writing its report.

Like shared/conversation/writes.py, each function runs inside the caller's write transaction
(BEGIN IMMEDIATE on SQLite; on PostgreSQL the session's row is read locked, or the
write is one conditional UPDATE or INSERT ... ON CONFLICT that another writer waits on) and the scoring itself is left to shared/training. A session
ends once: `complete_session` succeeds for exactly one caller, who then enqueues the
evaluation job; the report and its `session_complete` event are written together, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from shared.conversation import frames
from shared.conversation.writes import ConversationError
from shared.db import events as event_rows
from shared.db import messages as message_rows
from shared.db import reports as report_rows
from shared.db import sessions as session_rows
from shared.lib.clock import parse_iso, utc_now
from shared.llm.judging import ModelVerdict
from shared.training.completion import TIME_UP, TRAINEE_ENDED, completion_reason, script_finished
from shared.training.report import TraineeTurn, build_report
from shared.training.scoring import ReplyFeedback, reply_feedback


def trainee_turns(messages: Sequence[dict[str, Any]]) -> list[TraineeTurn]:
    """A session's stored messages (in id order) as the trainee's turns: each answers the
    customer line numbered by the assistant messages before it, minus one."""
    turns, customer_lines = [], 0
    for message in messages:
        if message["role"] == "assistant":
            customer_lines += 1
        elif message["role"] == "user":
            turns.append(TraineeTurn(message["id"], message["content"], message["timestamp"], customer_lines - 1))
    return turns


def score_trainee_message(
    scenario: Any, content: str, turn_index: int, verdict: ModelVerdict | None = None
) -> ReplyFeedback:
    """The feedback on a trainee line that answers customer line `turn_index` (pure: the
    worker scores before it takes the write lock); `verdict`, when a model judged it."""
    return reply_feedback(scenario, turn_index, content, verdict)


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


def time_is_up(scenario: Any, started_at: str, now: datetime | None = None) -> bool:
    """True once the scenario's duration_minutes have passed since `started_at`."""
    elapsed = ((now or utc_now()) - parse_iso(started_at)).total_seconds()
    return completion_reason(scenario, exchanges=0, elapsed_seconds=elapsed, script_finished=False) == TIME_UP


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
