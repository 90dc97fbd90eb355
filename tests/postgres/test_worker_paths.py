"""The worker's write paths on PostgreSQL: the training transactions' tests (feedback, completion,
one report and one `session_complete` however often evaluation runs) and the heartbeat's,
run unchanged on a throwaway PostgreSQL database (tests/postgres/conftest.py gives them
its `runtime`). Before, the heartbeat's SQLite-only upsert failed every maintenance pass,
and insert_report read an INSERT's rowcount (-1 on psycopg), so `session_complete` was
never sent."""

from __future__ import annotations

import time

from shared.db.reports import insert_report
from shared.db.workers import select_last_worker_seen
from tests.shared.training.test_loop import (  # noqa: F401
    _scenario,
    _start,
    test_a_reply_after_the_time_limit_completes_the_session_as_time_up,
    test_completed_sessions_without_a_report_are_requeued_at_start_up,
    test_ending_a_session_twice_is_refused_as_session_completed,
    test_evaluation_run_twice_stores_one_report_and_one_event,
    test_feedback_scores_the_stored_text_against_the_customer_line_it_answers,
    test_the_session_completes_by_script_only_after_the_last_line_is_answered,
    test_the_sweep_completes_only_overdue_sessions_and_queues_their_evaluation,
    test_two_messages_before_a_reply_answer_the_same_customer_line,
    test_write_report_ignores_an_active_session,
)
from tests.worker.test_maintenance import (  # noqa: F401
    test_the_heartbeat_publishes_the_model_calls_for_health,
)
from worker.maintenance import heartbeat


def test_the_heartbeat_upserts_its_row_on_postgresql(runtime):
    heartbeat(runtime)
    first = time.time()
    heartbeat(runtime)
    with runtime.reading() as conn:
        assert select_last_worker_seen(conn) >= first


def test_insert_report_says_true_once_then_false(runtime):
    session_id = _start(runtime, runtime.catalog.by_slug["customer-service"])
    with runtime.write_engine.begin() as conn:
        assert insert_report(conn, session_id, {"overall_score": 1}) is True
        assert insert_report(conn, session_id, {"overall_score": 2}) is False
