"""The workers table: heartbeats, so /api/health, /readyz and /metrics can say when a
worker was last alive."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from shared.db.dbclock import now_for, select_now
from shared.db.prepared import upsert_insert
from shared.db.schema import workers


def heartbeat_window_seconds(sweep_interval_seconds: float) -> float:
    """How old a worker's last heartbeat may be while it counts as alive: it beats every
    sweep interval, and three missed beats (plus slack for a slow sweep) mean it is gone."""
    return sweep_interval_seconds * 3 + 5


def upsert_worker_heartbeat(
    conn: Connection,
    *,
    worker_id: str,
    host: str,
    pid: int,
    started_at: str,
    now: float,
    model_calls: int = 0,
    model_calls_waiting: int = 0,
) -> None:
    # By the database's clock on PostgreSQL, so a reader on another host compares like
    # with like (select_now in shared/db/dbclock.py).
    counts = {
        "last_seen_at": now_for(conn, now),
        "model_calls": model_calls,
        "model_calls_waiting": model_calls_waiting,
    }
    statement = upsert_insert(conn.dialect.name)(workers).values(
        worker_id=worker_id, host=host, pid=pid, started_at=started_at, **counts
    )
    conn.execute(statement.on_conflict_do_update(index_elements=[workers.c.worker_id], set_=counts))


def select_model_calls(conn: Connection, *, seen_since: float) -> tuple[int, int]:
    """Model calls in progress and waiting for a slot, over the workers that beat since
    `seen_since` (epoch seconds)."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(workers.c.model_calls), 0), func.coalesce(func.sum(workers.c.model_calls_waiting), 0)
        ).where(workers.c.last_seen_at >= seen_since)
    ).one()
    return int(row[0]), int(row[1])


def select_last_worker_seen(conn: Connection) -> float | None:
    """Epoch seconds of the most recent heartbeat from any worker, or None if none ever
    (by the database's clock on PostgreSQL: compare with `dbclock.select_now`)."""
    return conn.execute(select(func.max(workers.c.last_seen_at))).scalar_one()


def select_live_workers(conn: Connection, *, seen_since: float) -> tuple[int, int]:
    """How many workers beat since `seen_since` (epoch seconds), and on how many hosts."""
    row = conn.execute(
        select(func.count(), func.count(func.distinct(workers.c.host))).where(workers.c.last_seen_at >= seen_since)
    ).one()
    return int(row[0]), int(row[1])


def count_live_workers(conn: Connection, *, within_seconds: float, now: float) -> int:
    """Workers that beat in the last `within_seconds`, by the database's clock on
    PostgreSQL (where heartbeats are stamped by it) and by `now` on SQLite."""
    return select_live_workers(conn, seen_since=select_now(conn, now) - within_seconds)[0]
