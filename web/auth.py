"""Who is calling and what they may see.

HTTP: `Authorization: Bearer <token>`. The chat socket (browsers cannot set headers on a
WebSocket) takes the token as a subprotocol (`chattrain.v1` plus `bearer.<token>`; the
server answers `chattrain.v1`, never echoing the token) or a single-use ticket from
`POST /api/ws-ticket` as `?ticket=`. A long-lived token never goes in a URL, where it
would end up in logs and browser history.

Trainees see their own sessions only; trainers see every session and the stats. A
session someone may not see is a 404, the same as one that does not exist, so ids are not
confirmed to strangers.

A socket's credentials are checked once, when it opens; disabling the user or rotating
the token later closes it within a second (web/revocation.py).

The web app signs people in with a browser session instead (web/blueprints/sign_in.py):
an HttpOnly cookie accepted beside Bearer tokens. A write (POST and the like) signed in by
that cookie must carry the session's CSRF token in `X-CSRF-Token`, and a socket signed in
by it must come from an allowed Origin (the server's own, CHATTRAIN_PUBLIC_BASE_URL's or
a CORS origin), so another site cannot act with a visitor's cookie.

`CHATTRAIN_AUTH_MODE=insecure-dev` trusts callers without credentials as a trainer-like
developer (and the body's user_id, as the seed did); create_app refuses it on anything
but a loopback address, and the trust goes only to requests and sockets addressed to an
allowed host and not sent by another site's page (web/origins.py), so that neither a
site the developer visits nor a name rebound to this machine acts as them. Credentials
that are sent are always checked."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from quart import current_app, g, request, websocket
from quart_schema import security_scheme

from shared.conversation.frames import error_frame
from shared.db.browser_sessions import csrf_token_for, select_user_by_browser_session
from shared.db.sessions import select_session
from shared.db.users import consume_ws_ticket, select_user_by_token, ws_ticket_exists
from shared.settings import Settings
from web.errors import ApiError
from web.origins import origin_allowed, unvouched_refusal

SOCKET_SUBPROTOCOL = "chattrain.v1"
BEARER_SUBPROTOCOL_PREFIX = "bearer."
CLOSE_UNAUTHORIZED = 4401
SESSION_COOKIE = "chattrain_session"
# Over HTTPS the browser only keeps a `__Host-` cookie that is Secure, has Path=/ and no
# Domain, so no page on a sibling subdomain can set one that shadows ours.
SECURE_SESSION_COOKIE = "__Host-chattrain_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# The OpenAPI security scheme; require_user documents it on each route it guards.
SECURITY_SCHEMES = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
_BEARER = [{"bearerAuth": []}]
_BEARER_OPTIONAL = [{}, {"bearerAuth": []}]  # OpenAPI's way of saying "anonymous or bearer"

# What a route demands, for the policy tests that walk the URL map: "user", "trainer", or
# "optional" (anyone; a token, when sent, is checked and shows more).
AUTH_ATTRIBUTE = "_chattrain_auth"

DEV_USER_ID = "dev-user"
# The largest row id SQLite stores; a larger id in a URL is simply not found.
MAX_ROW_ID = 2**63 - 1


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth_mode(settings: Settings) -> None:
    """Refuse insecure-dev mode unless the web process binds a loopback address only."""
    if settings.auth_mode == "insecure-dev" and not is_loopback(settings.host):
        raise RuntimeError(
            f"CHATTRAIN_AUTH_MODE=insecure-dev trusts anyone who can reach the server, so it only runs "
            f"on a loopback address; CHATTRAIN_HOST is {settings.host!r}. Set CHATTRAIN_HOST=127.0.0.1 "
            "or use CHATTRAIN_AUTH_MODE=required."
        )


def _insecure_dev() -> bool:
    return current_app.config["CHATTRAIN_SETTINGS"].auth_mode == "insecure-dev"


def _dev_refusal(connection) -> str | None:  # noqa: ANN001
    """Why insecure-dev mode may not trust this request or socket without a token (its
    Host is not an allowed one, or another site's page sent it: web/origins.py), or None."""
    return unvouched_refusal(connection, current_app.config["CHATTRAIN_SETTINGS"])


def _dev_user() -> dict[str, Any]:
    return {"id": DEV_USER_ID, "role": "trainer", "display_name": "insecure-dev", "disabled": False, "insecure": True}


def unauthorized_error(detail: str) -> ApiError:
    """The 401 for a missing or bad token, with the header that names the scheme."""
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="chattrain"'})


def served_over_https(scheme: str) -> bool:
    """Whether the browser sees this server over HTTPS: the request came over https/wss,
    or CHATTRAIN_PUBLIC_BASE_URL says so (a proxy in front terminates TLS)."""
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    return scheme in ("https", "wss") or settings.public_base_url.startswith("https://")


def session_cookie_name(scheme: str) -> str:
    """The session cookie's name: `__Host-` prefixed over HTTPS, plain over http (local
    development, where browsers refuse Secure cookies). Written and read by this one rule."""
    return SECURE_SESSION_COOKIE if served_over_https(scheme) else SESSION_COOKIE


def session_secret(connection) -> str | None:  # noqa: ANN001
    """The browser-session secret a request or websocket carries under the name its
    scheme calls for (a plain-named cookie over HTTPS is ignored), or None."""
    return connection.cookies.get(session_cookie_name(connection.scheme)) or None


async def cookie_user(secret: str | None) -> dict[str, Any] | None:
    """The user a browser-session secret signs in (with its `csrf_token`), or None."""
    if not secret:
        return None
    user = await current_app.db.read(select_user_by_browser_session, secret, now=time.time())
    if user is not None:
        user["csrf_token"] = csrf_token_for(secret)
    return user


async def authenticate_request() -> dict[str, Any]:
    """The user the request's bearer token (or, without one, the web app's session
    cookie) belongs to; ApiError 401 otherwise, 403 `csrf_failed` for a cookie-signed
    write without the session's CSRF token."""
    header = request.headers.get("Authorization")
    secret = session_secret(request)
    if header is None and secret:
        user = await cookie_user(secret)
        if user is None:
            raise unauthorized_error("Your sign-in has expired or was ended: ask your trainer for a new sign-in link.")
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != user["csrf_token"]:
            raise ApiError(
                403,
                "csrf_failed",
                f"This request needs the page's {CSRF_HEADER} header: reload the page and try again.",
            )
        return user
    if header is None:
        if not _insecure_dev():
            raise unauthorized_error("Sign in: send the header 'Authorization: Bearer <token>'.")
        refusal = _dev_refusal(request)
        if refusal is not None:
            raise unauthorized_error(
                f"Without a token, insecure-dev mode trusts only this machine's own pages and tools ({refusal}): "
                "open it at an allowed host (CHATTRAIN_ALLOWED_HOSTS, e.g. http://localhost:8000), or send "
                "'Authorization: Bearer <token>'."
            )
        return _dev_user()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized_error("The Authorization header must be 'Bearer <token>'.")
    user = await current_app.db.read(select_user_by_token, token)
    if user is None:
        raise unauthorized_error("That token is not valid: it is unknown, was rotated, or its user is disabled.")
    return user


def require_user(handler: Callable) -> Callable:
    """Route decorator: the caller must be signed in; sets `g.user` (a dict with `id` and
    `role`). Put it right under the route decorator."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user = await authenticate_request()
        return await handler(*args, **kwargs)

    setattr(wrapper, AUTH_ATTRIBUTE, "user")
    return security_scheme(_BEARER)(wrapper)


def optional_user(handler: Callable) -> Callable:
    """Route decorator for a public route that shows more to a signed-in caller: sets
    `g.user` to the token's user, or None without an Authorization header (the developer
    in insecure-dev mode). A token that is sent is checked: a bad one is a 401."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        signed_in = request.headers.get("Authorization") is not None or session_secret(request)
        trusted_dev = _insecure_dev() and _dev_refusal(request) is None
        g.user = await authenticate_request() if signed_in or trusted_dev else None
        return await handler(*args, **kwargs)

    setattr(wrapper, AUTH_ATTRIBUTE, "optional")
    return security_scheme(_BEARER_OPTIONAL)(wrapper)


def require_trainer(handler: Callable) -> Callable:
    """Route decorator: the caller must be a signed-in trainer (403 for trainees)."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user = await authenticate_request()
        if g.user["role"] != "trainer":
            raise ApiError(403, "forbidden", "Only trainers may do this.")
        return await handler(*args, **kwargs)

    setattr(wrapper, AUTH_ATTRIBUTE, "trainer")
    return security_scheme(_BEARER)(wrapper)


def may_see_session(user: dict[str, Any], session: dict[str, Any]) -> bool:
    return user["role"] == "trainer" or session["user_id"] == user["id"]


async def visible_session(session_id: int) -> dict[str, Any] | None:
    """The session if `g.user` may see it (their own, or any for a trainer), else None."""
    if not 0 < session_id <= MAX_ROW_ID:
        return None
    session = await current_app.db.read(select_session, session_id)
    return session if session is not None and may_see_session(g.user, session) else None


async def session_for_user(session_id: int) -> dict[str, Any]:
    """The session, if `g.user` may see it: their own, or any for a trainer. Otherwise
    ApiError 404 `session_not_found`, exactly as for a session that does not exist."""
    session = await visible_session(session_id)
    if session is None:
        raise ApiError(404, "session_not_found", f"No session {session_id}.")
    return session


def sessions_user_filter(requested: str | None) -> str | None:
    """The user_id a session listing may filter on: a trainer's choice (None: everyone's),
    and for a trainee always their own id, whatever they asked for."""
    return requested if g.user["role"] == "trainer" else g.user["id"]


def socket_subprotocol() -> str | None:
    """The subprotocol to accept with: ours when offered. A browser that offered
    subprotocols fails the connection unless the server picks one of them."""
    return SOCKET_SUBPROTOCOL if SOCKET_SUBPROTOCOL in websocket.requested_subprotocols else None


async def authenticate_websocket() -> tuple[dict[str, Any] | None, str]:
    """The socket's user and "", or None and the reason it was refused. Tries, in order:
    a `bearer.<token>` subprotocol, an Authorization header (non-browser clients), a
    `?ticket=` (used up here, even when it turns out to be expired)."""
    db = current_app.db
    bearer = [
        p[len(BEARER_SUBPROTOCOL_PREFIX) :]
        for p in websocket.requested_subprotocols
        if p.startswith(BEARER_SUBPROTOCOL_PREFIX)
    ]
    header = websocket.headers.get("Authorization", "")
    ticket = websocket.args.get("ticket")
    if bearer or header:
        scheme, _, header_token = header.partition(" ")
        token = bearer[0] if bearer else (header_token.strip() if scheme.lower() == "bearer" else "")
        user = await db.read(select_user_by_token, token) if token else None
        return (user, "") if user else (None, "token not valid")
    if ticket:
        # A made-up ticket costs only a read; only a real one takes the write lock to be used up.
        exists = await db.read(ws_ticket_exists, ticket)
        user = await db.write(consume_ws_ticket, ticket, now=time.time()) if exists else None
        return (user, "") if user else (None, "ticket not valid: unknown, used or expired")
    secret = session_secret(websocket)
    if secret:
        settings = current_app.config["CHATTRAIN_SETTINGS"]
        if not origin_allowed(websocket.headers.get("Origin"), websocket.scheme, websocket.host, settings):
            return None, "origin not allowed"
        user = await cookie_user(secret)
        return (user, "") if user else (None, "sign-in expired")
    if _insecure_dev():
        refusal = _dev_refusal(websocket)
        return (None, refusal) if refusal else (_dev_user(), "")
    return None, "authentication required"


def require_socket_user(handler: Callable) -> Callable:
    """WebSocket decorator: authenticate before accepting. A refused socket is accepted
    only to say why (an `unauthorized` error frame, then close code 4401), because a
    browser never sees the status of a rejected handshake."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        user, reason = await authenticate_websocket()
        if user is None:
            await websocket.accept(subprotocol=socket_subprotocol())
            await websocket.send(
                error_frame(
                    "unauthorized",
                    f"Not signed in ({reason}). Offer the subprotocols '{SOCKET_SUBPROTOCOL}' and "
                    f"'{BEARER_SUBPROTOCOL_PREFIX}<token>', or connect with ?ticket= from POST /api/ws-ticket.",
                )
            )
            await websocket.close(CLOSE_UNAUTHORIZED, reason)
            return None
        g.user = user
        return await handler(*args, **kwargs)

    setattr(wrapper, AUTH_ATTRIBUTE, "user")
    return wrapper
