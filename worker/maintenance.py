"""Per-process upkeep: the heartbeat /api/health reports (which also extends the claims
of the replies this process is generating, so a model that takes long to answer does not
look like a dead worker), the sweep that re-enqueues replies whose queue entry was lost
(a worker killed mid-job, a queue write lost to a crash), and the clock that completes
sessions whose time ran out while nobody wrote to them. Runs in one daemon thread (a
greenlet under the consumer) per process, beside the WAL checkpointer
(shared/db/checkpoint.py)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from shared.db import jobs as job_rows
from shared.db import sessions as session_rows
from shared.db.checkpoint import checkpointer_for
from shared.db.dbclock import select_now
from shared.db.reports import select_sessions_awaiting_report
from shared.db.workers import upsert_worker_heartbeat
from shared.lib.clock import utc_now
from shared.training.completion import TIME_UP, time_is_up
from worker.runtime import WorkerRuntime

log = logging.getLogger("chattrain.worker")

_started = False
_start_lock = threading.Lock()


def start_maintenance(
    runtime: WorkerRuntime,
    enqueue_reply,  # noqa: ANN001
    enqueue_evaluation=None,  # noqa: ANN001
    waiting_replies: Callable[[], set[int]] | None = None,
) -> None:
    """Start the upkeep thread once per process (Huey calls startup hooks per worker thread).
    `waiting_replies()`: the messages whose reply job has an entry waiting in the queue."""
    global _started
    with _start_lock:
        if _started:
            return
        _started = True
    thread = threading.Thread(
        target=_run,
        args=(runtime, enqueue_reply, enqueue_evaluation, waiting_replies),
        name="chattrain-maintenance",
        daemon=True,
    )
    thread.start()
    checkpointer_for(runtime.settings).start()


def _run(runtime: WorkerRuntime, enqueue_reply, enqueue_evaluation=None, waiting_replies=None) -> None:  # noqa: ANN001
    first = True
    while True:
        try:
            heartbeat(runtime)
            # A pid means something only when every worker shares this host (SQLite data
            # and queue); across hosts a dead worker is found by its claims running out,
            # which only its own heartbeat renews.
            sweep(
                runtime,
                enqueue_reply,
                reclaim_dead_local=first and runtime.settings.on_one_host,
                waiting_replies=waiting_replies,
            )
            if enqueue_evaluation is not None:
                if first:
                    requeue_lost_evaluations(runtime, enqueue_evaluation)
                complete_overdue_sessions(runtime, enqueue_evaluation)
            first = False
            runtime.database_outage.succeeded()
        except Exception as error:
            runtime.note_failure(error, "maintenance pass failed")
        time.sleep(runtime.settings.sweep_interval_seconds)


def heartbeat(runtime: WorkerRuntime) -> None:
    """Say this worker is alive, and extend its claims on the replies it is generating (a
    run renews its own claim only when it writes, and a model may stall for longer than
    a claim lasts before its first chunk)."""
    now = time.time()

    def write(conn):  # noqa: ANN001, ANN202
        upsert_worker_heartbeat(
            conn,
            worker_id=runtime.worker_id,
            host=runtime.host,
            pid=runtime.pid,
            started_at=runtime.started_at,
            now=now,
            model_calls=runtime.model_slots.in_use,
            model_calls_waiting=runtime.model_slots.waiting,
        )
        job_rows.extend_claims(
            conn, worker_id=runtime.worker_id, now=now, claim_seconds=runtime.settings.reply_claim_seconds
        )

    runtime.write(write)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held_by_dead_local_worker(runtime: WorkerRuntime, worker_id: str | None) -> bool:
    if not worker_id:
        return False
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    return (
        host == runtime.host and pid_text.isdigit() and int(pid_text) != runtime.pid and not _pid_alive(int(pid_text))
    )


def sweep(
    runtime: WorkerRuntime,
    enqueue_reply,  # noqa: ANN001
    *,
    reclaim_dead_local: bool = False,
    waiting_replies: Callable[[], set[int]] | None = None,
) -> int:
    """Re-enqueue every reply job that has no live worker; returns how many.

    That is a job whose claim ran out (its worker died, or lost the database), and a job
    still queued a claim's time after it was enqueued whose entry is no longer in the
    queue: a worker took it and died before claiming it, or the queue lost it. A job
    whose entry is waiting (a backlog) is left alone; `waiting_replies()` names those,
    read only when there is such a job. (Without it, every job queued that long is
    enqueued again; a second entry for a job is harmless, as its run finds it taken.)"""
    settings = runtime.settings
    # The queue's waiting entries are read before the write, not inside it: the worker's
    # writes share one writer, and a backlog's read (a Redis round trip) would hold up every
    # reply's. A job enqueued or taken meanwhile is judged by the next sweep.
    waiting: set[int] | None = None
    if waiting_replies is not None:
        with runtime.reading() as conn:
            now = select_now(conn, time.time())
            backlog = job_rows.has_long_queued_jobs(conn, now=now, queued_seconds=settings.reply_claim_seconds)
        waiting = waiting_replies() if backlog else set()

    def write(conn) -> list[int]:  # noqa: ANN001
        recovered = []
        now = select_now(conn, time.time())  # claims run out by the database's clock on PostgreSQL
        candidates = job_rows.select_recoverable_jobs(conn, now=now, queued_seconds=settings.reply_claim_seconds)
        if waiting is not None:
            candidates = [job for job in candidates if job["status"] != "queued" or job["message_id"] not in waiting]
        if reclaim_dead_local:
            candidates += [
                job
                for job in job_rows.select_working_jobs(conn)
                if job["claim_expires_at"]
                and job["claim_expires_at"] >= now
                and _held_by_dead_local_worker(runtime, job["worker_id"])
            ]
        for job in candidates:
            if job_rows.requeue_reply_job(conn, job["message_id"], now=now, last_error="recovered by sweep"):
                recovered.append(job["message_id"])
        return recovered

    recovered = runtime.write(write)
    for message_id in recovered:
        enqueue_reply(message_id)
    if recovered:
        log.warning("sweep re-enqueued %d reply job(s): %s", len(recovered), recovered[:20])
    return len(recovered)


def complete_overdue_sessions(runtime: WorkerRuntime, enqueue_evaluation) -> int:  # noqa: ANN001
    """Complete (ended_by "time_up") the active sessions whose scenario's duration has
    passed, and enqueue their evaluation; returns how many. One read of the active sessions
    older than the shortest duration; the write lock is taken only when one is overdue."""
    if not runtime.catalog.by_slug:
        return 0
    now = utc_now()
    shortest = min(scenario.duration_minutes for scenario in runtime.catalog.by_slug.values())
    started_before = (now - timedelta(minutes=shortest)).isoformat(timespec="milliseconds")
    with runtime.engine.connect() as conn:
        candidates = session_rows.select_active_sessions_started_before(conn, started_before)
    overdue = []
    for session in candidates:
        try:
            scenario = runtime.scenario_for(session["scenario_id"])
        except KeyError:  # a scenario this worker does not know: leave it be
            continue
        if time_is_up(scenario, session["created_at"], now):
            overdue.append(session["id"])
    if not overdue:
        return 0
    completed = runtime.write(
        lambda conn: [sid for sid in overdue if session_rows.complete_session(conn, sid, ended_by=TIME_UP)],
        lock_sessions=overdue,
    )
    for session_id in completed:
        enqueue_evaluation(session_id)
    if completed:
        log.info("completed %d session(s) whose time was up: %s", len(completed), completed[:20])
    return len(completed)


def requeue_lost_evaluations(runtime: WorkerRuntime, enqueue_evaluation) -> int:  # noqa: ANN001
    """At start-up: enqueue the evaluation of completed sessions that have no report (a
    crash between completing a session and enqueueing its job). Returns how many."""
    with runtime.engine.connect() as conn:
        session_ids = select_sessions_awaiting_report(conn)
    for session_id in session_ids:
        enqueue_evaluation(session_id)
    if session_ids:
        log.warning("re-enqueued %d lost evaluation(s): %s", len(session_ids), session_ids[:20])
    return len(session_ids)
