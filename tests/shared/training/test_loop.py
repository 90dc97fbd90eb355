"""A session's training transactions (shared/conversation/writes.py: the feedback the
worker's reply job writes, completion, the report) and the worker's evaluation job and
clock sweep, on a real SQLite file with the synchronous engine the worker uses."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from shared.conversation.writes import (
    ConversationError,
    complete_if_due,
    end_session,
    write_opening_line,
    write_report,
)
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.db.jsoncol import loads
from shared.db.reports import select_report, select_sessions_awaiting_report
from shared.db.scenario_rows import select_scenario_ids
from shared.db.schema import sessions as sessions_table
from shared.lib.clock import utc_now
from shared.training.report import trainee_turns
from worker.evaluation import run_evaluation
from worker.maintenance import complete_overdue_sessions, requeue_lost_evaluations
from worker.runtime import WorkerRuntime
from worker.tasks import run_reply_job


@pytest.fixture(name="scenario")
def _scenario(runtime: WorkerRuntime):
    return runtime.catalog.by_slug["customer-service"]


def _start(runtime: WorkerRuntime, scenario) -> int:  # noqa: ANN001
    with runtime.write_engine.begin() as conn:
        scenario_id = select_scenario_ids(conn)[scenario.slug]
        session = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")
        write_opening_line(conn, session_id=session["id"], content=scenario.opening_line)
        return session["id"]


def _say(runtime: WorkerRuntime, session_id: int, role: str, content: str, metadata: dict | None = None) -> int:
    with runtime.write_engine.begin() as conn:
        return message_rows.insert_message(conn, session_id=session_id, role=role, content=content, metadata=metadata)[
            "id"
        ]


def _events(runtime: WorkerRuntime, session_id: int, type: str) -> list:
    with runtime.engine.connect() as conn:
        return [e for e in event_rows.select_session_events_after(conn, session_id, 0) if e.type == type]


def _reply(runtime: WorkerRuntime, session_id: int, message_id: int) -> dict:
    """Run the reply job of trainee message `message_id` as the worker does; the payload of
    the feedback it wrote."""
    with runtime.write_engine.begin() as conn:
        job_rows.insert_reply_job(
            conn, message_id=message_id, session_id=session_id, now=time.time(), expiry_seconds=60
        )
    run_reply_job(runtime, message_id)
    (feedback,) = _events(runtime, session_id, "feedback")
    return loads(feedback.payload_json, {})


def _backdate(runtime: WorkerRuntime, session_id: int, minutes: float) -> None:
    started = (utc_now() - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")
    with runtime.write_engine.begin() as conn:
        conn.execute(sessions_table.update().where(sessions_table.c.id == session_id).values(created_at=started))


def test_feedback_scores_the_stored_text_against_the_customer_line_it_answers(runtime, scenario):
    session_id = _start(runtime, scenario)
    message_id = _say(runtime, session_id, "user", "Sorry! Let me help with the account.", {"masking": [{"type": "X"}]})
    payload = _reply(runtime, session_id, message_id)
    with runtime.engine.connect() as conn:
        stored = message_rows.select_message(conn, message_id)
    assert payload["message_id"] == message_id
    assert {"acknowledges the trouble", "takes on both problems"} <= set(payload["matched"])
    assert "addresses the charges too" in payload["missed"]
    assert set(payload["matched"]).isdisjoint(payload["missed"])
    assert payload["improve"] and {item["criterion"] for item in payload["improve"]} == {"Ownership and diagnosis"}
    assert payload["suggestions"] == [item["text"] for item in payload["improve"]]
    assert stored["metadata"]["masking"] == [{"type": "X"}]  # kept
    assert stored["metadata"]["feedback"]["score"] == payload["score"]


def test_two_messages_before_a_reply_answer_the_same_customer_line(runtime, scenario):
    session_id = _start(runtime, scenario)
    first = _say(runtime, session_id, "user", "Sorry.")
    second = _say(runtime, session_id, "user", "Thank you, I will send a reset email.")
    feedback = _reply(runtime, session_id, second)
    with runtime.engine.connect() as conn:
        turns = trainee_turns(message_rows.select_messages(conn, session_id))
    assert [(t.message_id, t.customer_turn_index) for t in turns] == [(first, 0), (second, 0)]
    # Judged against line 0, whose points it misses, not line 1, whose points it makes.
    assert feedback["matched"] == []
    assert feedback["missed"] == [point.label for point in scenario.bot_messages[0].points]


def test_the_session_completes_by_script_only_after_the_last_line_is_answered(runtime, scenario):
    session_id = _start(runtime, scenario)
    lines = len(scenario.bot_messages)
    for number in range(1, lines + 1):
        _say(runtime, session_id, "user", f"Answer {number}")
        _say(runtime, session_id, "assistant", f"Customer line {number + 1}")
        with runtime.write_engine.begin() as conn:
            reason = complete_if_due(conn, scenario, session_id)
        assert reason == ("script_complete" if number == lines else None), number
    with runtime.write_engine.begin() as conn:
        assert complete_if_due(conn, scenario, session_id) is None  # already completed


def test_a_reply_after_the_time_limit_completes_the_session_as_time_up(runtime, scenario):
    session_id = _start(runtime, scenario)
    _say(runtime, session_id, "user", "Hello")
    _backdate(runtime, session_id, scenario.duration_minutes + 1)
    with runtime.write_engine.begin() as conn:
        assert complete_if_due(conn, scenario, session_id) == "time_up"
        assert session_rows.select_session(conn, session_id)["ended_by"] == "time_up"


def test_ending_a_session_twice_is_refused_as_session_completed(runtime, scenario):
    session_id = _start(runtime, scenario)
    with runtime.write_engine.begin() as conn:
        end_session(conn, session_id=session_id)
    with pytest.raises(ConversationError) as refused, runtime.write_engine.begin() as conn:
        end_session(conn, session_id=session_id)
    assert refused.value.code == "session_completed"


def test_evaluation_run_twice_stores_one_report_and_one_event(runtime, scenario):
    session_id = _start(runtime, scenario)
    _say(runtime, session_id, "user", "I'm so sorry, let me help with the account and the charge.")
    assert run_evaluation(runtime, session_id) is None  # still active: nothing to do
    with runtime.write_engine.begin() as conn:
        end_session(conn, session_id=session_id)
    report = run_evaluation(runtime, session_id)
    assert run_evaluation(runtime, session_id) is None
    with runtime.engine.connect() as conn:
        assert select_report(conn, session_id) == report
    events = _events(runtime, session_id, "session_complete")
    assert len(events) == 1
    assert '"summary":' in events[0].payload_json and f'"session_id":{session_id}' in events[0].payload_json
    assert report["ended_by"] == "trainee_ended" and report["exchanges"] == 1


def test_write_report_ignores_an_active_session(runtime, scenario):
    session_id = _start(runtime, scenario)
    with runtime.write_engine.begin() as conn:
        assert write_report(conn, scenario, session_rows.select_session(conn, session_id)) is None


def test_the_sweep_completes_only_overdue_sessions_and_queues_their_evaluation(runtime, scenario):
    overdue, fresh = _start(runtime, scenario), _start(runtime, scenario)
    other = runtime.catalog.by_slug["technical-support"]  # 25 minutes
    not_yet = _start(runtime, other)
    _backdate(runtime, overdue, scenario.duration_minutes + 0.5)
    _backdate(runtime, not_yet, scenario.duration_minutes + 0.5)
    queued: list[int] = []
    assert complete_overdue_sessions(runtime, queued.append) == 1
    assert complete_overdue_sessions(runtime, queued.append) == 0
    assert queued == [overdue]
    with runtime.engine.connect() as conn:
        states = {sid: session_rows.select_session(conn, sid)["status"] for sid in (overdue, fresh, not_yet)}
    assert states == {overdue: "completed", fresh: "active", not_yet: "active"}


def test_completed_sessions_without_a_report_are_requeued_at_start_up(runtime, scenario):
    lost, reported = _start(runtime, scenario), _start(runtime, scenario)
    with runtime.write_engine.begin() as conn:
        end_session(conn, session_id=lost)
        end_session(conn, session_id=reported)
    run_evaluation(runtime, reported)
    queued: list[int] = []
    assert requeue_lost_evaluations(runtime, queued.append) == 1
    assert queued == [lost]
    with runtime.engine.connect() as conn:
        assert select_sessions_awaiting_report(conn) == [lost]
