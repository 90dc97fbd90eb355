"""What trainers read: the list of sessions, a session's report and transcript, and a
scenario's statistics. Reports are written by the worker's evaluation job once a session
is completed; until then the report is 404 report_not_ready. Trainees see their own
sessions only, trainers every one; statistics are for trainers (web/auth.py)."""

from __future__ import annotations

from quart import Blueprint, Response, abort, current_app
from quart_schema import validate_querystring, validate_response

from shared.db import reports as report_rows
from shared.db import sessions as session_rows
from shared.session_records import outcomes_stats, select_session_record, transcript_json, transcript_markdown
from web.auth import require_trainer, require_user, sessions_user_filter
from web.blueprints.scenarios import find_scenario
from web.blueprints.sessions import load_session, session_view
from web.errors import ApiError
from web.models import Report, ScenarioStats, SessionFilter, SessionSummary, Transcript, TranscriptFilter
from web.openapi import document_content, document_errors

blueprint = Blueprint("reports", __name__)


@blueprint.get("/api/sessions")
@require_user
@validate_querystring(SessionFilter)
@validate_response(list[SessionSummary], 200)
@document_errors(404)
async def get_sessions(query_args: SessionFilter) -> list[SessionSummary]:
    """List training sessions, newest first, filtered by trainee, scenario or status.

    Each session carries its report's overall score once the report is written. A trainee
    always gets their own sessions, whatever user_id says."""
    scenario_id = None
    if query_args.scenario_id is not None:
        found = current_app.catalog.get(query_args.scenario_id)
        if found is None:
            raise ApiError(
                404, "scenario_not_found", f"No scenario with id or slug {query_args.scenario_id!r}.", "scenario_id"
            )
        scenario_id = found[0]
    sessions = await current_app.db.read(
        session_rows.select_sessions,
        user_id=sessions_user_filter(query_args.user_id),
        scenario_id=scenario_id,
        status=query_args.status,
        limit=query_args.limit,
        offset=query_args.offset,
    )
    return [
        SessionSummary(
            **session_view(session),
            ended_by=session["ended_by"],
            overall_score=session["report"]["overall_score"] if session["report"] else None,
        )
        for session in sessions
    ]


@blueprint.get("/api/sessions/<int:session_id>/report")
@require_user
@validate_response(Report, 200)
async def get_session_report(session_id: int) -> Report:
    """Show a completed session's report: overall score, criteria, strengths and improvements.

    404 report_not_ready while the session is active or its report is still being written."""
    session = await load_session(session_id)
    if session["status"] == "active":
        raise ApiError(
            404,
            "report_not_ready",
            f"Session {session_id} is still active; its report is written once it ends "
            "(end_session, a finished script or the time limit).",
        )
    report = await current_app.db.read(report_rows.select_report, session_id)
    if report is None:
        raise ApiError(
            404, "report_not_ready", f"Session {session_id} has ended and its report is being written; try again shortly."
        )
    return Report(**report)


@blueprint.get("/api/sessions/<int:session_id>/transcript")
@require_user
@validate_querystring(TranscriptFilter)
@validate_response(Transcript, 200)
@document_content(200, "text/markdown")
async def get_session_transcript(session_id: int, query_args: TranscriptFilter) -> Transcript:
    """Download a session's transcript with the feedback on each trainee message.

    `format=json` (the default) gives the document below; `format=markdown` gives the same
    transcript, with the report summary once written, as text/markdown."""
    await load_session(session_id)  # 404 unless the caller may see it
    record = await current_app.db.read(select_session_record, session_id)
    if record is None:
        raise ApiError(404, "session_not_found", f"No session {session_id}.")
    if query_args.format == "markdown":
        # validate_response cannot pass a non-JSON body through, and OpenAPI should still
        # describe the JSON form: a response raised with abort() is sent as it is.
        abort(Response(transcript_markdown(record), status=200, content_type="text/markdown; charset=utf-8"))
    return Transcript(**{**session_view(record["session"]), **transcript_json(record)})


@blueprint.get("/api/scenarios/<ident>/stats")
@require_trainer
@validate_response(ScenarioStats, 200)
async def get_scenario_stats(ident: str) -> ScenarioStats:
    """Summarise a scenario's sessions: completion rate, scores and the most-missed keywords.

    A keyword counts once per session that missed it: in a reply to the customer line that
    expected it, or as a required keyword never said."""
    scenario_id, scenario = find_scenario(ident)
    outcomes = await current_app.db.read(report_rows.select_scenario_outcomes, scenario_id)
    return ScenarioStats(scenario_id=scenario_id, scenario_slug=scenario.slug, **outcomes_stats(outcomes))
