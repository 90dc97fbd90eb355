"""The sessions table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Connection, any_, bindparam, func, select, update

from shared.db.jsoncol import dumps, loads
from shared.db.prepared import Prepared
from shared.db.schema import reports, sessions
from shared.lib.clock import utc_now_iso

# The statements that run for every chat message are prepared once (shared/db/prepared.py).
_BY_ID = Prepared(select(sessions).where(sessions.c.id == bindparam("session_id")))
# FOR NO KEY UPDATE on PostgreSQL (SQLite leaves the clause out: BEGIN IMMEDIATE already
# holds the database's write lock).
_BY_ID_FOR_UPDATE = Prepared(
    select(sessions).where(sessions.c.id == bindparam("session_id")).with_for_update(key_share=True)
)
_SET_DATA = Prepared(
    sessions.update().where(sessions.c.id == bindparam("session_id")).values(data_json=bindparam("b_data_json"))
)
_TOUCH = Prepared(
    sessions.update().where(sessions.c.id == bindparam("session_id")).values(last_activity_at=bindparam("now"))
)
_COMPLETE = Prepared(
    update(sessions)
    .where(sessions.c.id == bindparam("session_id"), sessions.c.status == "active")
    .values(status="completed", completed_at=bindparam("b_now"), ended_by=bindparam("b_ended_by"))
)


def insert_session(conn: Connection, *, scenario_id: int, user_id: str) -> dict[str, Any]:
    """Create an active session and return it as a dict."""
    now = utc_now_iso()
    result = conn.execute(
        sessions.insert().values(
            scenario_id=scenario_id,
            user_id=user_id,
            status="active",
            created_at=now,
            last_activity_at=now,
            data_json="{}",
        )
    )
    return select_session(conn, result.inserted_primary_key[0])  # type: ignore[return-value]


def _session_dict(row) -> dict[str, Any]:  # noqa: ANN001
    session = dict(row._mapping)
    session["data"] = loads(session.pop("data_json"), {})
    return session


def select_session(conn: Connection, session_id: int) -> dict[str, Any] | None:
    row = _BY_ID.one(conn, {"session_id": session_id})
    if row is None:
        return None
    row["data"] = loads(row.pop("data_json"), {})
    return row


def select_session_for_update(conn: Connection, session_id: int) -> dict[str, Any] | None:
    """The session, locked until the transaction ends (PostgreSQL): what a read-then-write
    on a session (its status, its masking vault, its messages) reads first, so that two
    processes writing to one session take turns as they do under SQLite's BEGIN IMMEDIATE."""
    row = _BY_ID_FOR_UPDATE.one(conn, {"session_id": session_id})
    if row is None:
        return None
    row["data"] = loads(row.pop("data_json"), {})
    return row


_LOCK_IN_ORDER = Prepared(
    select(sessions.c.id)
    .where(sessions.c.id == any_(bindparam("session_ids", type_=ARRAY(BigInteger))))
    .order_by(sessions.c.id)
    .with_for_update(key_share=True)
)


def lock_sessions(conn: Connection, session_ids: Iterable[int]) -> None:
    """Lock these sessions' rows until the transaction ends, in id order (PostgreSQL; a
    no-op on SQLite, where BEGIN IMMEDIATE holds the whole database).

    A grouped write transaction (shared/db/grouped_writes.py) writes to many sessions,
    and each write locks its session when it comes to it: two processes' groups would
    take the same rows in different orders and wait for each other. Taken here first,
    all at once and sorted, every group waits in the same order, so none waits for one
    that waits for it. (ORDER BY comes before the locking: rows are locked as sorted.)"""
    ids = sorted(set(session_ids))
    if ids and conn.dialect.name == "postgresql":
        _LOCK_IN_ORDER.all(conn, {"session_ids": ids})
        # Held to the end of this transaction: insert_event need not lock them again.
        conn.info[_LOCKED] = (conn.get_transaction(), frozenset(ids))


_LOCKED = "chattrain_locked_sessions"


def holds_session_lock(conn: Connection, session_id: int) -> bool:
    """Whether this transaction locked the session up front (lock_sessions)."""
    held = conn.info.get(_LOCKED)
    return held is not None and held[0] is conn.get_transaction() and session_id in held[1]


def select_sessions(
    conn: Connection,
    *,
    user_id: str | None = None,
    scenario_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Sessions newest first, filtered by whichever arguments are given, each with its
    report's overall score when there is one."""
    query = (
        select(sessions, reports.c.report_json)
        .outerjoin(reports, reports.c.session_id == sessions.c.id)
        .order_by(sessions.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if user_id is not None:
        query = query.where(sessions.c.user_id == user_id)
    if scenario_id is not None:
        query = query.where(sessions.c.scenario_id == scenario_id)
    if status is not None:
        query = query.where(sessions.c.status == status)
    rows = []
    for row in conn.execute(query):
        session = _session_dict(row)
        report = loads(session.pop("report_json"), None)
        session["report"] = report
        rows.append(session)
    return rows


def count_active_sessions(conn: Connection, user_id: str) -> int:
    return conn.execute(
        select(func.count()).select_from(sessions).where(sessions.c.user_id == user_id, sessions.c.status == "active")
    ).scalar_one()


def update_session_data(conn: Connection, session_id: int, data: dict[str, Any]) -> None:
    _SET_DATA.run(conn, {"session_id": session_id, "b_data_json": dumps(data)})


def touch_session(conn: Connection, session_id: int) -> None:
    """Record trainee activity (the idle timeout counts from here)."""
    _TOUCH.run(conn, {"session_id": session_id, "now": utc_now_iso()})


def complete_session(conn: Connection, session_id: int, *, ended_by: str) -> bool:
    """Mark an active session completed. Returns False when it was already completed, so
    that exactly one caller goes on to evaluate it."""
    return _COMPLETE.run(conn, {"session_id": session_id, "b_now": utc_now_iso(), "b_ended_by": ended_by}) == 1


def select_active_sessions_started_before(conn: Connection, started_before: str) -> list[dict[str, Any]]:
    """Active sessions created before an ISO 8601 UTC time, as `{id, scenario_id,
    created_at}`: the candidates for running out of time. (Stored timestamps share one
    format, so comparing the text compares the times.)"""
    rows = conn.execute(
        select(sessions.c.id, sessions.c.scenario_id, sessions.c.created_at)
        .where(sessions.c.status == "active", sessions.c.created_at < started_before)
        .order_by(sessions.c.id)
    )
    return [dict(row._mapping) for row in rows]
