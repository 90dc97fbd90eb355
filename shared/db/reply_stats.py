"""What /metrics reports about replies, read from the reply_jobs and messages tables.

Every read here is bounded by an index: the recent replies by `model_requested_at` (at
most `limit` rows), the counts by `status`. Nothing walks every reply ever written, which
a cumulative histogram would have to do on each scrape."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from shared.db.schema import messages, reply_jobs
from shared.lib.clock import parse_iso

# Replies being written or waiting for a worker, and the statuses a reply ends in.
OPEN_STATUSES = ("queued", "working")
FINAL_STATUSES = ("done", "failed", "expired")


@dataclass(frozen=True, slots=True)
class ReplyTiming:
    """One answered reply, in epoch seconds: when the trainee's message was stored, when
    its job was (last) enqueued, when the model was asked, when its first chunk came, and
    when the reply was stored."""

    message_stored_at: float
    enqueued_at: float
    requested_at: float
    first_chunk_at: float | None
    reply_stored_at: float | None

    @property
    def queue_wait(self) -> float:
        return max(0.0, self.requested_at - self.enqueued_at)


def select_recent_reply_timings(conn: Connection, *, since: float, limit: int = 2000) -> list[ReplyTiming]:
    """The replies whose model call started after `since` (epoch seconds; the most
    recent `limit`), with their trainee message's and their reply's stored times."""
    trainee, reply = aliased(messages), aliased(messages)
    rows = conn.execute(
        select(
            trainee.c.timestamp,
            reply_jobs.c.enqueued_at,
            reply_jobs.c.model_requested_at,
            reply_jobs.c.model_first_chunk_at,
            reply.c.timestamp,
        )
        .join(trainee, trainee.c.id == reply_jobs.c.message_id)
        .outerjoin(reply, reply.c.reply_to == reply_jobs.c.message_id)
        .where(reply_jobs.c.model_requested_at >= since)
        .order_by(reply_jobs.c.model_requested_at.desc())
        .limit(limit)
    )
    return [
        ReplyTiming(
            message_stored_at=parse_iso(stored).timestamp(),
            enqueued_at=enqueued_at,
            requested_at=requested_at,
            first_chunk_at=first_chunk_at,
            reply_stored_at=None if replied is None else parse_iso(replied).timestamp(),
        )
        for stored, enqueued_at, requested_at, first_chunk_at, replied in rows
    ]


def count_reply_jobs_by_status(conn: Connection) -> dict[str, int]:
    """How many reply jobs are in each status (queued, working, done, failed, expired);
    a status no job is in counts 0."""
    counts = dict.fromkeys(OPEN_STATUSES + FINAL_STATUSES, 0)
    rows = conn.execute(select(reply_jobs.c.status, func.count()).group_by(reply_jobs.c.status))
    counts.update({status: int(count) for status, count in rows})
    return counts


def count_failed_replies_by_code(conn: Connection) -> dict[str, int]:
    """Replies that failed for good, by the code of the model error that ended them
    (`reply_jobs.last_error`; a retried attempt that later succeeded leaves none)."""
    rows = conn.execute(
        select(reply_jobs.c.last_error, func.count())
        .where(reply_jobs.c.status == "failed")
        .group_by(reply_jobs.c.last_error)
    )
    return {code or "unknown": int(count) for code, count in rows}
