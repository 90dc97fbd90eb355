"""The evaluation job: once a session is completed (by the trainee's end_session, a
finished script or the clock), `evaluate_session(session_id)` builds its report from the
stored transcript, stores it, and appends the `session_complete` event that carries it to
the trainee's socket. Keyed by the session, so running it twice stores one report and one
event.

With CHATTRAIN_LLM_GRADING=on and the openai provider, the LLM also grades the session
against the rubric (shared/llm/grading.py) before the report is written, outside any
transaction since the call may take a while. Its grading goes into the report as
`llm_grading` next to the deterministic scores; when the call fails or its answer is
invalid, `llm_grading` is null and the report is otherwise the same."""

from __future__ import annotations

import logging
from typing import Any

from shared.conversation.writes import write_report
from shared.db import messages as message_rows
from shared.db import reports as report_rows
from shared.db import sessions as session_rows
from shared.llm import LLMError
from shared.llm import accounting as llm_accounting
from shared.llm.grading import GradingOutcome, grade_session
from worker.huey_app import huey
from worker.runtime import WorkerRuntime, get_runtime

log = logging.getLogger("chattrain.worker")


@huey.task(retries=2, retry_delay=2)
def evaluate_session(session_id: int) -> None:
    """Write a completed session's report and its session_complete event (idempotent)."""
    run_evaluation(get_runtime(), session_id)


def run_evaluation(runtime: WorkerRuntime, session_id: int) -> dict[str, Any] | None:
    """Returns the report when this run wrote it, None when there was nothing to do."""
    settings = runtime.settings
    llm_grading_on = settings.llm_grading == "on" and settings.llm_provider == "openai"
    graded = _grade_with_llm(runtime, session_id) if llm_grading_on else None

    def write(conn):  # noqa: ANN001, ANN202
        session = session_rows.select_session(conn, session_id)
        if session is None or session["status"] != "completed":
            return None
        scenario = runtime.scenario_for(session["scenario_id"])
        report = write_report(conn, scenario, session, llm_grading=graded.grading if graded else None)
        if report is not None and graded is not None:
            llm_accounting.record_grading(
                conn, user_id=session["user_id"], provider=runtime.provider.name, usage=graded.usage
            )
        return report

    report = runtime.write(write, lock_sessions=(session_id,))
    if report is not None:
        runtime.wake_web()
        log.info(
            "report written session_id=%s ended_by=%s overall_score=%s llm_score=%s",
            session_id,
            report["ended_by"],
            report["overall_score"],
            (report["llm_grading"] or {}).get("overall_score"),
        )
    return report


def _grade_with_llm(runtime: WorkerRuntime, session_id: int) -> GradingOutcome | None:
    """The LLM's grading of a completed session still without a report; None when there
    is nothing to grade, the trainee's daily budget is spent, or the call failed (the
    failure is recorded for /api/health)."""
    with runtime.engine.connect() as conn:
        session = session_rows.select_session(conn, session_id)
        if session is None or session["status"] != "completed" or report_rows.select_report(conn, session_id):
            return None
        messages = message_rows.select_messages(conn, session_id)
    scenario = runtime.scenario_for(session["scenario_id"])
    try:
        llm_accounting.check_daily_budget(
            runtime.engine, user_id=session["user_id"], budget=runtime.settings.llm_daily_token_budget_per_user
        )
        with runtime.model_slots.held():
            graded = grade_session(runtime.provider, scenario, messages)
    except LLMError as error:
        code = error.code
        runtime.write(lambda conn: llm_accounting.record_failure(conn, provider=runtime.provider.name, code=code))
        log.warning("LLM grading skipped session_id=%s code=%s", session_id, error.code)
        return None
    if graded is not None and graded.grading is None:
        log.warning("LLM grading answer not usable session_id=%s reason=%s", session_id, graded.invalid_reason)
    return graded
