"""Signing in to the web app by link: the page exchanges a sign-in link's single-use code
for a browser session held in an HttpOnly cookie, and signs out by deleting it.

The link (`chattrain users sign-in-link USER`) carries the code in its fragment
(`/#sign-in=<code>`), which browsers never send to a server or in a Referer, so it does
not reach access logs; the page posts it here and removes it from the address bar."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field
from quart import Blueprint, current_app, g, request
from quart_schema import validate_request, validate_response

from shared.db.browser_sessions import (
    csrf_token_for,
    delete_browser_session,
    exchange_sign_in_code,
    sign_in_code_exists,
)
from web.auth import require_user, served_over_https, session_cookie_name, session_secret
from web.errors import ApiError
from web.models import Me
from web.openapi import document_errors

blueprint = Blueprint("sign_in", __name__)


class SignInData(BaseModel):
    code: str = Field(min_length=1, max_length=200, description="The code from a sign-in link (after #sign-in=).")


class SignedOut(BaseModel):
    signed_out: bool


@blueprint.post("/api/sign-in")
@validate_request(SignInData)
@validate_response(Me, 200)
@document_errors(429)
async def post_sign_in(data: SignInData):  # noqa: ANN201
    """Exchange a sign-in link's code for a browser session (an HttpOnly cookie).

    A code is good once, within the link's lifetime: one already used, expired or unknown
    is refused with 400 `sign_in_link_invalid` (field `code`), and too many refused codes
    from one address with 429."""
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    failures, address = current_app.sign_in_failures, request.remote_addr
    failures.check(address)  # 429 over the limit, before the database is asked anything
    # A wrong code costs one read; only a code on file takes a write transaction to be used up.
    exists = await current_app.db.read(sign_in_code_exists, data.code)
    exchanged = exists and await current_app.db.write(
        exchange_sign_in_code, data.code, now=time.time(), session_ttl_seconds=settings.browser_session_ttl_seconds
    )
    if not exchanged:
        failures.record(address)
        raise ApiError(
            400,
            "sign_in_link_invalid",
            "This sign-in link does not work: it was used already, has expired, or was copied wrongly. "
            "Ask your trainer for a new one.",
            "code",
        )
    user, secret = exchanged
    me = Me(id=user["id"], role=user["role"], display_name=user.get("display_name"), csrf_token=csrf_token_for(secret))
    headers = {"Set-Cookie": session_cookie_header(secret, settings.browser_session_ttl_seconds)}
    return me, 200, headers


def session_cookie_header(value: str, max_age: int) -> str:
    """The Set-Cookie value: over HTTPS `__Host-` prefixed and Secure (web/auth.py reads
    the same name by the same rule), plain over http. Never a Domain."""
    secure = "; Secure" if served_over_https(request.scheme) else ""
    name = session_cookie_name(request.scheme)
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"


@blueprint.post("/api/sign-out")
@require_user
@validate_response(SignedOut, 200)
async def post_sign_out():  # noqa: ANN201
    """Sign this browser out: its session cookie stops working at once and is cleared, and
    the chat sockets it opened are closed."""
    secret = session_secret(request)
    if secret and g.user.get("csrf_token"):
        await current_app.db.write(delete_browser_session, secret)
        # This process's sockets opened with the cookie close now; other processes' at
        # their next sweep, which finds the session gone (web/revocation.py).
        current_app.credential_watch.end_browser_session(g.user["browser_session"])
    return SignedOut(signed_out=True), 200, {"Set-Cookie": session_cookie_header("", 0)}
