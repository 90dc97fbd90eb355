"""A session's records: its report and its transcript. Reports are written by the
worker's evaluation job once a session is completed; until then the report is 404
report_not_ready. Trainees see their own sessions only, trainers every one (web/auth.py)."""

from __future__ import annotations

from quart import Blueprint, Response, abort, current_app
from quart_schema import validate_querystring, validate_response

from shared.conversation.records import select_session_record, transcript_json, transcript_markdown
from shared.db import reports as report_rows
from web.auth import require_user, session_for_user
from web.blueprints.sessions import session_view
from web.errors import ApiError
from web.models import Report, Transcript, TranscriptFilter
from web.openapi import document_content

blueprint = Blueprint("reports", __name__)


@blueprint.get("/api/sessions/<int:session_id>/report")
@require_user
@validate_response(Report, 200)
async def get_session_report(session_id: int) -> Report:
    """Show a completed session's report: overall score, criteria, strengths and improvements.

    404 report_not_ready while the session is active or its report is still being written."""
    session = await session_for_user(session_id)
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
            404,
            "report_not_ready",
            f"Session {session_id} has ended and its report is being written; try again shortly.",
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
    await session_for_user(session_id)  # 404 unless the caller may see it
    record = await current_app.db.read(select_session_record, session_id)
    if record is None:
        raise ApiError(404, "session_not_found", f"No session {session_id}.")
    if query_args.format == "markdown":
        # validate_response cannot pass a non-JSON body through, and OpenAPI should still
        # describe the JSON form: a response raised with abort() is sent as it is.
        abort(Response(transcript_markdown(record), status=200, content_type="text/markdown; charset=utf-8"))
    return Transcript(**{**session_view(record["session"]), **transcript_json(record)})
