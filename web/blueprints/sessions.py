"""Training sessions: start one, list them, read one back with its transcript. A session
belongs to the token's user; trainees see their own, trainers every one (web/auth.py)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, g, request
from quart_schema import validate_querystring, validate_request, validate_response

from shared.conversation.writes import create_session
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.db.limits import RateLimit
from web.auth import require_user, session_for_user, sessions_user_filter
from web.blueprints.scenarios import find_scenario
from web.errors import ApiError
from web.models import Session, SessionData, SessionFilter, SessionSummary, SessionWithTranscript
from web.openapi import document_errors
from web.origins import host_is_allowed

blueprint = Blueprint("sessions", __name__)


def websocket_url(session_id: int) -> str:
    """Where to open the session's chat socket: under CHATTRAIN_PUBLIC_BASE_URL when set;
    else on the host the request was sent to, if it is an allowed one; else a relative
    URL, which the client resolves against the address it called (docs/protocol.md)."""
    path = f"/chat/{session_id}"
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    if settings.public_base_url:
        base = settings.public_base_url.replace("https://", "wss://").replace("http://", "ws://").rstrip("/")
        return f"{base}{path}"
    if host_is_allowed(request.host, settings.allowed_hosts):
        scheme = "wss" if request.scheme in ("https", "wss") else "ws"
        return f"{scheme}://{request.host}{path}"
    return path


def session_view(session: dict[str, Any]) -> dict[str, Any]:
    scenario = current_app.catalog.by_id.get(session["scenario_id"])
    return {
        "id": session["id"],
        "session_id": session["id"],
        "scenario_id": session["scenario_id"],
        "scenario_slug": scenario.slug if scenario else "",
        "user_id": session["user_id"],
        "status": session["status"],
        "created_at": session["created_at"],
        "completed_at": session["completed_at"],
        "websocket_url": websocket_url(session["id"]),
    }


def session_owner(data: SessionData) -> str:
    """Whose session this is: the token's user. The body's user_id, kept for older
    clients, must name that same user (trainers included: no sessions on behalf of
    others). Only insecure-dev mode without a token trusts it, as the seed did."""
    user = g.user
    if user.get("insecure"):
        return data.user_id or user["id"]
    if data.user_id is not None and data.user_id != user["id"]:
        raise ApiError(403, "user_mismatch", "user_id must be your own user id (or left out).", "user_id")
    return user["id"]


@blueprint.post("/api/sessions")
@require_user
@validate_request(SessionData)
@validate_response(Session, 201)
@document_errors(403, 404, 429)
async def post_session(data: SessionData) -> tuple[Session, int]:
    """Start a training session on a scenario; connect to its websocket_url to chat."""
    user_id = session_owner(data)
    scenario_id, scenario = find_scenario(data.scenario_id)
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    session = await current_app.db.write(
        create_session,
        scenario_id=scenario_id,
        user_id=user_id,
        opening_line=scenario.opening_line,
        max_active=settings.max_active_sessions_per_user,
        rate_limit=RateLimit("session_creation", settings.sessions_per_window, settings.session_window_seconds),
    )
    return Session(**session_view(session)), 201


@blueprint.get("/api/sessions/<int:session_id>")
@require_user
@validate_response(SessionWithTranscript, 200)
async def get_session(session_id: int) -> SessionWithTranscript:
    """Show a session with its transcript, messages in order (your own; trainers: any)."""
    session = await session_for_user(session_id)
    messages = await current_app.db.read(message_rows.select_messages, session_id)
    return SessionWithTranscript(**session_view(session), messages=messages)


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
