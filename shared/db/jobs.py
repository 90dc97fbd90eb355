"""The reply_jobs table: which trainee messages still need a reply, who is working on
each, and until when their claim lasts.

`enqueued_at`, `expires_at` and `claim_expires_at` are written by one process and compared
by another, perhaps on another host, so on PostgreSQL they come from the database's clock
(shared/db/dbclock.py); readers compare them with `dbclock.select_now`. The model timing
columns are the worker's own stamps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from shared.db.dbclock import now_for, now_param
from shared.db.prepared import Prepared
from shared.db.schema import reply_jobs

# The statements that run for every reply are prepared once (shared/db/prepared.py).
# Bind names carry a b_ prefix: SQLAlchemy reserves column names in UPDATE statements.
_JOB_FIELDS = ("message_id", "session_id", "status", "attempts")


def _build_insert(dialect_name: str):  # noqa: ANN202
    now = now_param(dialect_name)  # the database's clock on PostgreSQL
    return reply_jobs.insert().values(
        {
            **{name: bindparam(f"b_{name}") for name in _JOB_FIELDS},
            "enqueued_at": now,
            "expires_at": now + bindparam("b_expiry_seconds"),
        }
    )


_INSERT = Prepared(_build_insert)
_BY_ID = Prepared(select(reply_jobs).where(reply_jobs.c.message_id == bindparam("b_message_id")))
# Take the job, or extend this claimant's claim on it, in one statement that returns it
# (RETURNING: SQLite 3.35+, PostgreSQL). `attempts` counts runs, so it grows only when
# the job changes hands.


def _build_claim(dialect_name: str):  # noqa: ANN202
    now = now_param(dialect_name)  # the database's clock on PostgreSQL (shared/db/dbclock.py)
    return (
        update(reply_jobs)
        .where(
            reply_jobs.c.message_id == bindparam("b_message_id"),
            or_(
                reply_jobs.c.status == "queued",
                and_(
                    reply_jobs.c.status == "working",
                    or_(reply_jobs.c.worker_id == bindparam("b_worker_id"), reply_jobs.c.claim_expires_at < now),
                ),
            ),
        )
        .values(
            status="working",
            worker_id=bindparam("b_worker_id"),
            claim_expires_at=now + bindparam("b_claim_seconds"),
            attempts=reply_jobs.c.attempts
            + case(
                (and_(reply_jobs.c.status == "working", reply_jobs.c.worker_id == bindparam("b_worker_id")), 0), else_=1
            ),
        )
        .returning(*reply_jobs.c)
    )


_CLAIM = Prepared(_build_claim)
_FINISH = Prepared(
    update(reply_jobs)
    .where(reply_jobs.c.message_id == bindparam("b_message_id"))
    .values(status=bindparam("b_status"), claim_expires_at=None, last_error=bindparam("b_last_error"))
)
_ANSWERED = Prepared(
    update(reply_jobs)
    .where(reply_jobs.c.message_id == bindparam("b_message_id"))
    .values(
        status="done",
        claim_expires_at=None,
        last_error=None,
        model_requested_at=bindparam("b_requested_at"),
        model_first_chunk_at=bindparam("b_first_chunk_at"),
        model_last_chunk_at=bindparam("b_last_chunk_at"),
    )
)


def insert_reply_job(conn: Connection, *, message_id: int, session_id: int, now: float, expiry_seconds: float) -> None:
    """Queue the reply to `message_id`; it expires `expiry_seconds` after `now` (the
    database's now on PostgreSQL)."""
    _INSERT.run(
        conn,
        {
            "b_message_id": message_id,
            "b_session_id": session_id,
            "b_status": "queued",
            "b_attempts": 0,
            "b_now": now,
            "b_expiry_seconds": expiry_seconds,
        },
    )


def select_reply_job(conn: Connection, message_id: int) -> dict[str, Any] | None:
    return _BY_ID.one(conn, {"b_message_id": message_id})


def _build_by_id_at_now(dialect_name: str):  # noqa: ANN202
    return select(reply_jobs, now_param(dialect_name).label("db_now")).where(
        reply_jobs.c.message_id == bindparam("b_message_id")
    )


_BY_ID_AT_NOW = Prepared(_build_by_id_at_now)


def select_reply_job_and_now(conn: Connection, message_id: int, now: float) -> tuple[dict[str, Any] | None, float]:
    """The job, and the time to compare its claim and expiry with, in one statement: `now`
    on SQLite, the database's clock on PostgreSQL (shared/db/dbclock.py), which stamped
    them."""
    job = _BY_ID_AT_NOW.one(conn, {"b_message_id": message_id, "b_now": now})
    if job is None:
        return None, now
    return job, job.pop("db_now")


def may_take(job: dict[str, Any], now: float) -> bool:
    """Whether a worker may start on this job: queued, or its claim ran out."""
    return job["status"] == "queued" or (job["status"] == "working" and (job["claim_expires_at"] or 0) < now)


def claim_reply_job(
    conn: Connection, message_id: int, *, claimant: str, now: float, claim_seconds: float
) -> dict[str, Any] | None:
    """Claim the job for `claimant` (one run of a reply job), or extend the claim if it is
    already theirs. Returns the job, or None when it is finished or another live run has claimed it."""
    return _CLAIM.one(
        conn,
        {"b_message_id": message_id, "b_now": now, "b_worker_id": claimant, "b_claim_seconds": claim_seconds},
    )


def finish_reply_job(conn: Connection, message_id: int, *, status: str, last_error: str | None = None) -> None:
    """Set a final status: done, failed or expired."""
    _FINISH.run(conn, {"b_message_id": message_id, "b_status": status, "b_last_error": last_error})


def finish_answered_reply_job(
    conn: Connection, message_id: int, *, requested_at: float, first_chunk_at: float, last_chunk_at: float
) -> None:
    """Mark the job done, with when its model call was made and streamed (epoch seconds)."""
    _ANSWERED.run(
        conn,
        {
            "b_message_id": message_id,
            "b_requested_at": requested_at,
            "b_first_chunk_at": first_chunk_at,
            "b_last_chunk_at": last_chunk_at,
        },
    )


def extend_claims(conn: Connection, *, worker_id: str, now: float, claim_seconds: float) -> int:
    """Extend the claim of every job a run of this worker process has claimed (their claimants are
    `<worker_id>:<run>`), so a model that is slow to answer does not look like a dead
    worker to the sweep. Returns how many.

    A job whose row another transaction holds (on PostgreSQL) is skipped, not waited for:
    that is another process's transaction, and the next beat extends it. Waiting made
    this update, taking rows in the table's order, deadlock with the worker's grouped
    writes taking them in their own order, and the failed pass let the claims run out."""
    now = now_for(conn, now)
    mine = (
        select(reply_jobs.c.message_id)
        .where(
            reply_jobs.c.status == "working",
            reply_jobs.c.worker_id.startswith(f"{worker_id}:", autoescape=True),
            reply_jobs.c.claim_expires_at >= now,
        )
        .with_for_update(skip_locked=True)
    )
    result = conn.execute(
        update(reply_jobs).where(reply_jobs.c.message_id.in_(mine)).values(claim_expires_at=now + claim_seconds)
    )
    return result.rowcount


def select_queue_waits(conn: Connection, *, since: float, limit: int = 2000) -> list[float]:
    """Seconds from enqueue to model request of the replies whose model call started
    after `since` (the most recent `limit`)."""
    rows = conn.execute(
        select(reply_jobs.c.model_requested_at - reply_jobs.c.enqueued_at)
        .where(reply_jobs.c.model_requested_at >= since)
        .order_by(reply_jobs.c.model_requested_at.desc())
        .limit(limit)
    )
    return [max(0.0, wait) for (wait,) in rows]


def select_oldest_queued_at(conn: Connection) -> float | None:
    """When the reply job waiting longest for a worker was enqueued."""
    return conn.execute(select(func.min(reply_jobs.c.enqueued_at)).where(reply_jobs.c.status == "queued")).scalar_one()


def requeue_reply_job(
    conn: Connection, message_id: int, *, now: float, last_error: str | None = None, expiry_seconds: float | None = None
) -> bool:
    """Put a job back to queued (after an interruption, a retryable failure, or a trainee's
    retry, which gives it `expiry_seconds` from now again). Returns False if the job is
    already done."""
    clock = now_for(conn, now)
    values: dict[str, Any] = {"status": "queued", "worker_id": None, "claim_expires_at": None, "enqueued_at": clock}
    if last_error is not None:
        values["last_error"] = last_error
    if expiry_seconds is not None:
        values["expires_at"] = clock + expiry_seconds
        values["attempts"] = 0
    result = conn.execute(
        update(reply_jobs).where(reply_jobs.c.message_id == message_id, reply_jobs.c.status != "done").values(**values)
    )
    return result.rowcount == 1


def has_long_queued_jobs(conn: Connection, *, now: float, queued_seconds: float) -> bool:
    """Whether a job has been queued for more than `queued_seconds` (a plain read: the
    sweep's cue to list the queue's waiting entries before its write)."""
    queued_before = now_for(conn, now) - queued_seconds
    found = conn.execute(
        select(reply_jobs.c.message_id)
        .where(reply_jobs.c.status == "queued", reply_jobs.c.enqueued_at < queued_before)
        .limit(1)
    ).first()
    return found is not None


def select_recoverable_jobs(
    conn: Connection, *, now: float, queued_seconds: float, limit: int = 500
) -> list[dict[str, Any]]:
    """Jobs that may have lost their queue entry: working with an expired claim, or queued
    for more than `queued_seconds`, longer than a healthy queue would take. On PostgreSQL
    the rows are locked until the caller's transaction ends and rows another sweep has
    locked are skipped, so two overlapping sweeps never re-enqueue the same job."""
    claims_end_by = now_for(conn, now)
    queued_before = claims_end_by - queued_seconds
    rows = conn.execute(
        select(reply_jobs)
        .where(
            or_(
                and_(reply_jobs.c.status == "working", reply_jobs.c.claim_expires_at < claims_end_by),
                and_(reply_jobs.c.status == "queued", reply_jobs.c.enqueued_at < queued_before),
            )
        )
        .order_by(reply_jobs.c.message_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [dict(row._mapping) for row in rows]


def select_working_jobs(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(reply_jobs).where(reply_jobs.c.status == "working"))
    return [dict(row._mapping) for row in rows]


def count_open_reply_jobs(conn: Connection) -> int:
    """Replies queued or being written: the backlog an operator watches."""
    return conn.execute(
        select(func.count()).select_from(reply_jobs).where(reply_jobs.c.status.in_(("queued", "working")))
    ).scalar_one()
