"""The signed-in user: who they are, and tickets for opening the chat socket from a
browser (which cannot put a token in a WebSocket header)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from quart import Blueprint, current_app, g
from quart_schema import validate_response

from shared.db.limits import RateLimit, hit_rate_limit
from shared.db.users import insert_ws_ticket
from web.auth import require_user, unauthorized_error
from web.errors import ApiError
from web.models import Me, WsTicket
from web.openapi import document_errors

blueprint = Blueprint("account", __name__)


@blueprint.get("/api/me")
@require_user
@validate_response(Me, 200)
async def get_me() -> Me:
    """Show who the token belongs to and their role."""
    return Me(
        id=g.user["id"],
        role=g.user["role"],
        display_name=g.user.get("display_name"),
        csrf_token=g.user.get("csrf_token"),
    )


def _issue_ticket(
    conn,
    *,
    user_id: str,
    credentials_revision: int,
    ttl_seconds: int,
    limit: RateLimit,  # noqa: ANN001
) -> tuple[str, float] | None:
    hit_rate_limit(conn, user_id=user_id, limit=limit)
    return insert_ws_ticket(
        conn, user_id=user_id, credentials_revision=credentials_revision, now=time.time(), ttl_seconds=ttl_seconds
    )


@blueprint.post("/api/ws-ticket")
@require_user
@validate_response(WsTicket, 201)
@document_errors(400, 429)
async def post_ws_ticket() -> tuple[WsTicket, int]:
    """Get a single-use ticket (valid about a minute) to open a chat socket with ?ticket=."""
    if g.user.get("insecure"):
        raise ApiError(
            400, "no_ticket_needed", "Insecure-dev mode without a token: connect to the socket without a ticket."
        )
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    limit = RateLimit("ws_ticket", settings.ws_tickets_per_window, settings.ws_ticket_window_seconds)
    issued = await current_app.db.write(
        _issue_ticket,
        user_id=g.user["id"],
        credentials_revision=g.user["credentials_revision"],
        ttl_seconds=settings.ws_ticket_ttl_seconds,
        limit=limit,
    )
    if issued is None:  # the token was revoked after it was checked, a moment ago
        raise unauthorized_error("That token is not valid: it was rotated, or its user is disabled.")
    ticket, expires_at = issued
    return (
        WsTicket(
            ticket=ticket,
            expires_at=datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="milliseconds"),
            expires_in_seconds=settings.ws_ticket_ttl_seconds,
        ),
        201,
    )
