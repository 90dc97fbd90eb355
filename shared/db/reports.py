"""The reports table: one end-of-session report per completed session, written once by
the evaluation job and read by the API, the CLI and the statistics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from shared.db.jsoncol import dumps, loads
from shared.db.prepared import upsert_insert
from shared.db.schema import reports, sessions
from shared.lib.clock import utc_now_iso


def insert_report(conn: Connection, session_id: int, report: dict[str, Any]) -> bool:
    """Store a session's report unless it already has one. Returns True when this call
    stored it, so exactly one evaluation run goes on to announce it. (RETURNING says so
    on every driver; an INSERT's rowcount is -1 on some.)"""
    statement = upsert_insert(conn.dialect.name)(reports).values(
        session_id=session_id, report_json=dumps(report), created_at=utc_now_iso()
    )
    statement = statement.on_conflict_do_nothing(index_elements=[reports.c.session_id]).returning(reports.c.session_id)
    return conn.execute(statement).first() is not None


def select_report(conn: Connection, session_id: int) -> dict[str, Any] | None:
    """The stored report of a session, or None while there is none."""
    text = conn.execute(select(reports.c.report_json).where(reports.c.session_id == session_id)).scalar_one_or_none()
    return loads(text, None)


def select_scenario_outcomes(conn: Connection, scenario_id: int) -> list[dict[str, Any]]:
    """Every session of one scenario as `{session_id, status, report}` (report None when
    there is none yet): what the scenario's statistics are computed from."""
    rows = conn.execute(
        select(sessions.c.id, sessions.c.status, reports.c.report_json)
        .outerjoin(reports, reports.c.session_id == sessions.c.id)
        .where(sessions.c.scenario_id == scenario_id)
        .order_by(sessions.c.id)
    )
    return [{"session_id": row.id, "status": row.status, "report": loads(row.report_json, None)} for row in rows]


def select_sessions_awaiting_report(conn: Connection, *, limit: int = 500) -> list[int]:
    """Ids of completed sessions that have no report: their evaluation job was lost (a
    crash between completing the session and enqueueing the job)."""
    rows = conn.execute(
        select(sessions.c.id)
        .outerjoin(reports, reports.c.session_id == sessions.c.id)
        .where(sessions.c.status == "completed", reports.c.session_id.is_(None))
        .order_by(sessions.c.id)
        .limit(limit)
    )
    return [row.id for row in rows]
