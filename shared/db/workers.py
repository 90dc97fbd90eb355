"""The workers table: heartbeats, so /api/health can say when a worker was last alive."""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.db.schema import workers


def upsert_worker_heartbeat(conn: Connection, *, worker_id: str, host: str, pid: int, started_at: str, now: float) -> None:
    statement = sqlite_insert(workers).values(
        worker_id=worker_id, host=host, pid=pid, started_at=started_at, last_seen_at=now
    )
    conn.execute(statement.on_conflict_do_update(index_elements=[workers.c.worker_id], set_={"last_seen_at": now}))


def select_last_worker_seen(conn: Connection) -> float | None:
    """Epoch seconds of the most recent heartbeat from any worker, or None if none ever."""
    return conn.execute(select(func.max(workers.c.last_seen_at))).scalar_one()


def delete_worker(conn: Connection, worker_id: str) -> None:
    conn.execute(workers.delete().where(workers.c.worker_id == worker_id))
