"""Scored sessions for export (`chattrain export scores`): each session with a report,
with its trainee, its scenario and the report's numbers, and nothing of its text.

Read a page at a time by session id, so an export of any size holds one page in memory
and no read transaction stays open between pages (a long one on SQLite would keep the
WAL from being checkpointed while web and worker write)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, select

from shared.db.jsoncol import loads
from shared.db.schema import reports, scenarios, sessions, users

PAGE_SIZE = 500


def _numbers(report: dict[str, Any]) -> dict[str, Any]:
    """The report's scores only. Its evidence, strengths, improvements and the LLM's
    comments quote or paraphrase what the trainee typed (masked, but still their words):
    none of it leaves through an export."""
    grading = report.get("llm_grading") or {}
    return {
        "overall_score": report.get("overall_score"),
        "duration_seconds": report.get("duration_seconds"),
        "exchanges": report.get("exchanges"),
        "criteria": [
            {"name": item.get("name"), "weight": item.get("weight"), "score": item.get("score")}
            for item in report.get("criteria") or []
        ],
        "llm_overall_score": grading.get("overall_score"),
        "llm_criteria": {item.get("name"): item.get("score") for item in grading.get("criteria") or []},
    }


def _page_query(*, after_id: int, since: str | None, user_id: str | None, limit: int):  # noqa: ANN202
    query = (
        select(
            sessions.c.id,
            sessions.c.user_id,
            users.c.display_name,
            sessions.c.created_at,
            sessions.c.completed_at,
            sessions.c.ended_by,
            scenarios.c.slug,
            scenarios.c.title,
            reports.c.report_json,
        )
        .join(reports, reports.c.session_id == sessions.c.id)
        .join(scenarios, scenarios.c.id == sessions.c.scenario_id)
        # sessions.user_id has no foreign key: a session may belong to an id with no users row.
        .outerjoin(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.id > after_id)
        .order_by(sessions.c.id)
        .limit(limit)
    )
    if since is not None:
        # ISO 8601 UTC strings of one format sort as the times they name.
        query = query.where(sessions.c.completed_at >= since)
    if user_id is not None:
        query = query.where(sessions.c.user_id == user_id)
    return query


def select_scored_sessions_page(
    conn: Connection, *, after_id: int = 0, since: str | None = None, user_id: str | None = None, limit: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """Up to `limit` sessions with a report and an id above `after_id`, by id: each as
    {session_id, user_id, display_name, started_at, ended_at, ended_by, scenario_slug,
    scenario_title, report} where report holds only numbers. `since` (ISO 8601) keeps the
    sessions that ended at or after it."""
    rows = conn.execute(_page_query(after_id=after_id, since=since, user_id=user_id, limit=limit))
    return [
        {
            "session_id": row.id,
            "user_id": row.user_id,
            "display_name": row.display_name,
            "started_at": row.created_at,
            "ended_at": row.completed_at,
            "ended_by": row.ended_by,
            "scenario_slug": row.slug,
            "scenario_title": row.title,
            "report": _numbers(loads(row.report_json, {})),
        }
        for row in rows
    ]


def iter_scored_sessions(
    engine: Engine, *, since: str | None = None, user_id: str | None = None, page_size: int = PAGE_SIZE
) -> Iterator[dict[str, Any]]:
    """Every scored session (see select_scored_sessions_page), a page per short read."""
    after_id = 0
    while True:
        with engine.connect() as conn:
            page = select_scored_sessions_page(conn, after_id=after_id, since=since, user_id=user_id, limit=page_size)
        yield from page
        if len(page) < page_size:
            return
        after_id = page[-1]["session_id"]
