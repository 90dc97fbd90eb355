"""A session's record as trainers read it (the HTTP API and the CLI share these, so both
give the same answers): the transcript with per-reply feedback, the report, and the
inputs of a scenario's statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from shared.db import messages as message_rows
from shared.db import reports as report_rows
from shared.db import sessions as session_rows
from shared.db.scenario_rows import select_scenario_row
from shared.training.stats import scenario_stats
from shared.training.transcript import render_markdown_transcript


def select_session_record(conn: Connection, session_id: int) -> dict[str, Any] | None:
    """`{session, scenario, messages, report}` for one session, or None if there is no
    such session. `scenario` is `{id, slug, title}`; `report` is None until written."""
    session = session_rows.select_session(conn, session_id)
    if session is None:
        return None
    scenario = select_scenario_row(conn, session["scenario_id"]) or {
        "id": session["scenario_id"],
        "slug": "",
        "title": f"Scenario {session['scenario_id']}",
    }
    return {
        "session": session,
        "scenario": scenario,
        "messages": message_rows.select_messages(conn, session_id),
        "report": report_rows.select_report(conn, session_id),
    }


def session_fields(session: Mapping[str, Any], scenario_slug: str) -> dict[str, Any]:
    """The session's own facts, without its private state (the masking vault)."""
    return {
        "id": session["id"],
        "session_id": session["id"],
        "scenario_id": session["scenario_id"],
        "scenario_slug": scenario_slug,
        "user_id": session["user_id"],
        "status": session["status"],
        "created_at": session["created_at"],
        "completed_at": session["completed_at"],
        "ended_by": session["ended_by"],
    }


def transcript_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """The transcript as JSON: the session's facts, its messages in order (a trainee
    message carries its feedback, or null), and the report (null until written)."""
    return {
        **session_fields(record["session"], record["scenario"]["slug"]),
        "scenario_title": record["scenario"]["title"],
        "messages": [
            {**message, "feedback": (message["metadata"] or {}).get("feedback") if message["role"] == "user" else None}
            for message in record["messages"]
        ],
        "report": record["report"],
    }


def transcript_markdown(record: Mapping[str, Any]) -> str:
    """The transcript as Markdown, with the feedback inline and the report summary."""
    return render_markdown_transcript(
        session=record["session"],
        scenario_title=record["scenario"]["title"],
        messages=record["messages"],
        report=record["report"],
    )


def report_missed_keywords(report: Mapping[str, Any]) -> list[str]:
    """The keywords a session missed, for statistics: the required keywords never said,
    plus every expected keyword a reply missed (the stats count each once per session).
    Lines the trainee never answered add nothing here; they show in the score."""
    missed = list((report.get("required_keywords") or {}).get("missed") or [])
    for turn in report.get("per_turn") or []:
        missed.extend(turn.get("missed") or [])
    return list(dict.fromkeys(missed))


def outcomes_stats(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A scenario's statistics from `select_scenario_outcomes` rows."""
    return scenario_stats(
        [
            {
                "status": outcome["status"],
                "score": outcome["report"]["overall_score"] if outcome["report"] else None,
                "missed_keywords": report_missed_keywords(outcome["report"]) if outcome["report"] else [],
            }
            for outcome in outcomes
        ]
    )
