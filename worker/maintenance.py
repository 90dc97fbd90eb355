"""Per-process upkeep: the heartbeat /api/health reports, and the sweep that re-enqueues
replies whose queue entry was lost (a worker killed mid-job, a queue write lost to a
crash). Runs in one daemon thread per consumer process."""

from __future__ import annotations

import logging
import os
import threading
import time

from shared.db import jobs as job_rows
from shared.db.workers import upsert_worker_heartbeat
from worker.runtime import WorkerRuntime

log = logging.getLogger("chattrain.worker")

_started = False
_start_lock = threading.Lock()


def start_maintenance(runtime: WorkerRuntime, enqueue_reply) -> None:  # noqa: ANN001
    """Start the upkeep thread once per process (Huey calls startup hooks per worker thread)."""
    global _started
    with _start_lock:
        if _started:
            return
        _started = True
    thread = threading.Thread(target=_run, args=(runtime, enqueue_reply), name="chattrain-maintenance", daemon=True)
    thread.start()


def _run(runtime: WorkerRuntime, enqueue_reply) -> None:  # noqa: ANN001
    first = True
    while True:
        try:
            heartbeat(runtime)
            sweep(runtime, enqueue_reply, reclaim_dead_local=first)
            first = False
        except Exception:
            log.exception("maintenance pass failed")
        time.sleep(runtime.settings.sweep_interval_seconds)


def heartbeat(runtime: WorkerRuntime) -> None:
    with runtime.write_engine.begin() as conn:
        upsert_worker_heartbeat(
            conn,
            worker_id=runtime.worker_id,
            host=runtime.host,
            pid=runtime.pid,
            started_at=runtime.started_at,
            now=time.time(),
        )


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
    return host == runtime.host and pid_text.isdigit() and int(pid_text) != runtime.pid and not _pid_alive(int(pid_text))


def sweep(runtime: WorkerRuntime, enqueue_reply, *, reclaim_dead_local: bool = False) -> int:  # noqa: ANN001
    """Re-enqueue every reply job that has no live worker; returns how many."""
    settings = runtime.settings
    now = time.time()
    stale_queued_seconds = max(settings.reply_lease_seconds * 3, 30.0)
    recovered: list[int] = []
    with runtime.write_engine.begin() as conn:
        candidates = job_rows.select_recoverable_jobs(conn, now=now, queued_before=now - stale_queued_seconds)
        if reclaim_dead_local:
            candidates += [
                job
                for job in job_rows.select_working_jobs(conn)
                if job["lease_expires_at"] and job["lease_expires_at"] >= now
                and _held_by_dead_local_worker(runtime, job["worker_id"])
            ]
        for job in candidates:
            if job_rows.requeue_reply_job(conn, job["message_id"], now=now, last_error="recovered by sweep"):
                recovered.append(job["message_id"])
    for message_id in recovered:
        enqueue_reply(message_id)
    if recovered:
        log.warning("sweep re-enqueued %d reply job(s): %s", len(recovered), recovered[:20])
    return len(recovered)
