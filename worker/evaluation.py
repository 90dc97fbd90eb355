"""The evaluation job: once a session is completed (by the trainee's end_session, a
finished script or the clock), `evaluate_session(session_id)` builds its report from the
stored transcript, stores it, and appends the `session_complete` event that carries it to
the trainee's socket. Keyed by the session, so running it twice stores one report and one
event."""

from __future__ import annotations

import logging
from typing import Any

from shared import training_loop
from shared.db import sessions as session_rows
from worker.huey_app import huey
from worker.runtime import WorkerRuntime, get_runtime

log = logging.getLogger("chattrain.worker")


@huey.task(retries=2, retry_delay=2)
def evaluate_session(session_id: int) -> None:
    """Write a completed session's report and its session_complete event (idempotent)."""
    run_evaluation(get_runtime(), session_id)


def run_evaluation(runtime: WorkerRuntime, session_id: int) -> dict[str, Any] | None:
    """Returns the report when this run wrote it, None when there was nothing to do."""
    with runtime.write_engine.begin() as conn:
        session = session_rows.select_session(conn, session_id)
        if session is None or session["status"] != "completed":
            return None
        scenario = runtime.scenario_for(session["scenario_id"])
        report = training_loop.write_report(conn, scenario, session)
    if report is not None:
        runtime.ring_web()
        log.info(
            "report written session_id=%s ended_by=%s overall_score=%s",
            session_id,
            report["ended_by"],
            report["overall_score"],
        )
    return report
