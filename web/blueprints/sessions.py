"""Training sessions: start one, read one back with its transcript."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, request
from quart_schema import validate_request, validate_response

from shared.conversation import write_opening_line
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from web.blueprints.scenarios import find_scenario
from web.errors import ApiError
from web.models import Session, SessionData, SessionWithTranscript

blueprint = Blueprint("sessions", __name__)


def websocket_url(session_id: int) -> str:
    base = current_app.config["CHATTRAIN_SETTINGS"].public_base_url
    if base:
        base = base.replace("https://", "wss://").replace("http://", "ws://").rstrip("/")
    else:
        scheme = "wss" if request.scheme in ("https", "wss") else "ws"
        base = f"{scheme}://{request.host}"
    return f"{base}/chat/{session_id}"


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


def _create_session(conn, *, scenario_id: int, user_id: str, opening_line: str | None) -> dict[str, Any]:  # noqa: ANN001
    session = session_rows.insert_session(conn, scenario_id=scenario_id, user_id=user_id)
    if opening_line:
        write_opening_line(conn, session_id=session["id"], content=opening_line)
    return session


@blueprint.post("/api/sessions")
@validate_request(SessionData)
@validate_response(Session, 201)
async def post_session(data: SessionData) -> tuple[Session, int]:
    """Start a training session on a scenario; connect to its websocket_url to chat."""
    scenario_id, scenario = find_scenario(data.scenario_id)
    session = await current_app.db.write(
        _create_session, scenario_id=scenario_id, user_id=data.user_id, opening_line=scenario.opening_line
    )
    return Session(**session_view(session)), 201


async def load_session(session_id: int) -> dict[str, Any]:
    session = await current_app.db.read(session_rows.select_session, session_id)
    if session is None:
        raise ApiError(404, "session_not_found", f"No session {session_id}.")
    return session


@blueprint.get("/api/sessions/<int:session_id>")
@validate_response(SessionWithTranscript, 200)
async def get_session(session_id: int) -> SessionWithTranscript:
    """Show a session with its transcript, messages in order."""
    session = await load_session(session_id)
    messages = await current_app.db.read(message_rows.select_messages, session_id)
    return SessionWithTranscript(**session_view(session), messages=messages)
