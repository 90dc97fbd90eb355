"""What the stack's own database says, read after a case (read-only): whether every
acknowledged message got exactly one reply, on its socket and in `messages`; and the
worker's stamps in `reply_jobs`, set against this client's receipt times for the queue
wait and the overheads of the first delta and of the final message.

Stamps (epoch seconds, time.time() in the web and worker processes on this host):
enqueued_at (the web process stored the message and queued its job), model_requested_at
(the worker asked the model, last run), model_first_chunk_at and model_last_chunk_at (the
worker received the model's first and last chunk)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bench.meter import latency_stats
from bench.trainees import Trainee
from shared.db.engine import create_sync_engine
from tests.support.stack import Stack

STAMP_COLUMNS = ("enqueued_at", "model_requested_at", "model_first_chunk_at", "model_last_chunk_at")


@contextlib.contextmanager
def _connect(stack: Stack) -> Iterator[_Rows]:
    """A connection to the stack's database (SQLite or PostgreSQL) that runs SQL text."""
    engine = create_sync_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            yield _Rows(conn)
    finally:
        engine.dispose()


class _Rows:
    def __init__(self, conn):  # noqa: ANN001
        self._conn = conn

    def execute(self, sql: str):  # noqa: ANN201
        return self._conn.execute(text(sql))


def delivery_check(stack: Stack, trainees: list[Trainee]) -> dict[str, int]:
    """Every acked message has exactly one reply on its socket and one row in the DB."""
    acked = {m for t in trainees for m in t.acked}
    on_socket = Counter()
    for t in trainees:
        on_socket.update({m: c for m, c in t.replies.items() if m in acked})
    with _connect(stack) as conn:
        rows = conn.execute("SELECT reply_to, COUNT(*) FROM messages WHERE reply_to IS NOT NULL GROUP BY reply_to")
        in_db = Counter({reply_to: n for reply_to, n in rows if reply_to in acked})
    return {
        "sent": sum(t.sent for t in trainees),
        "acked": len(acked),
        "socket_once": sum(1 for m in acked if on_socket[m] == 1),
        "socket_missing": sum(1 for m in acked if on_socket[m] == 0),
        "socket_duplicated": sum(1 for m in acked if on_socket[m] > 1),
        "db_once": sum(1 for m in acked if in_db[m] == 1),
        "db_missing": sum(1 for m in acked if in_db[m] == 0),
        "db_duplicated": sum(1 for m in acked if in_db[m] > 1),
    }


def exactly_once(delivery: dict[str, int]) -> bool:
    d = delivery
    return d["sent"] == d["acked"] == d["socket_once"] == d["db_once"]


@dataclass(frozen=True)
class Stamps:
    enqueued_at: float
    requested_at: float | None
    first_chunk_at: float | None
    last_chunk_at: float | None


def read_stamps(stack: Stack, message_ids: Iterable[int]) -> dict[int, Stamps] | str:
    """Each message's reply_jobs stamps, or why they could not be read (a database
    without the columns: the worker's migration has not landed)."""
    wanted = set(message_ids)
    try:
        with _connect(stack) as conn:
            rows = conn.execute(f"SELECT message_id, {', '.join(STAMP_COLUMNS)} FROM reply_jobs").fetchall()
    except DBAPIError as error:
        return f"no stamps ({error})"
    return {row[0]: Stamps(*row[1:]) for row in rows if row[0] in wanted}


def overheads(trainees: list[Trainee], stamps: dict[int, Stamps]) -> dict[str, dict | None]:
    """Queue wait, first-delta and final-message overheads (percentiles in ms) of these
    trainees' replies, each over the replies that have both ends of it."""
    queue, first, final = [], [], []
    for t in trainees:
        for message_id in t.acked:
            s = stamps.get(message_id)
            if s is None or s.requested_at is None:
                continue
            queue.append(s.requested_at - s.enqueued_at)
            if s.first_chunk_at is not None and message_id in t.first_delta_at:
                first.append(t.first_delta_at[message_id] - s.first_chunk_at)
            if s.last_chunk_at is not None and message_id in t.final_at:
                final.append(t.final_at[message_id] - s.last_chunk_at)
    return {"queue_ms": latency_stats(queue), "first_delta_ms": latency_stats(first), "final_ms": latency_stats(final)}
