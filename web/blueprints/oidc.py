"""Signing in with the organisation's OpenID Connect provider (authorization code flow
with PKCE, state and nonce). Registered only when CHATTRAIN_OIDC_ISSUER_URL is set, so
with OIDC off these addresses are a plain 404.

`/api/oidc/login` sends the browser to the provider with a fresh state, nonce and PKCE
challenge, whose values it keeps in a short-lived HttpOnly cookie (nothing is stored on
the server, so any web process can take the callback). `/api/oidc/callback` checks the
state against that cookie, exchanges the code, checks the ID token (web/oidc_client.py),
and opens the same browser session a sign-in link opens (shared/db/oidc_users.py)."""

from __future__ import annotations

import hmac
import time

from pydantic import BaseModel
from quart import Blueprint, current_app, redirect, request
from quart_schema import hide, validate_response

from shared.db.oidc_users import SignInRefused, sign_in_oidc_user
from shared.db.users import new_secret
from web.auth import served_over_https
from web.blueprints.sign_in import session_cookie_header
from web.errors import ApiError
from web.oidc_claims import person_from_claims
from web.oidc_client import OidcError

blueprint = Blueprint("oidc", __name__)

FLOW_COOKIE = "chattrain_oidc"
SECURE_FLOW_COOKIE = "__Host-chattrain_oidc"
# Time to sign in at the provider (typing a password, a second factor) and come back.
FLOW_SECONDS = 600
LOGIN_PATH = "/api/oidc/login"


class OidcProviderInfo(BaseModel):
    provider_name: str
    login_url: str


@blueprint.get("/api/oidc")
@validate_response(OidcProviderInfo, 200)
async def get_oidc() -> OidcProviderInfo:
    """Say which OpenID Connect provider people can sign in with (a 404 when there is none)."""
    return OidcProviderInfo(provider_name=current_app.oidc.config.provider_name, login_url=LOGIN_PATH)


@blueprint.get(LOGIN_PATH)
@hide
async def get_oidc_login():  # noqa: ANN201
    """Send the browser to the provider to sign in."""
    state, nonce, verifier = new_secret(), new_secret(), new_secret()
    try:
        url = await current_app.oidc.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
    except OidcError as error:
        raise ApiError(error.status, error.code, error.detail) from None
    response = redirect(url)
    response.headers["Set-Cookie"] = _flow_cookie(f"{state}.{nonce}.{verifier}", FLOW_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/api/oidc/callback")
@hide
async def get_oidc_callback():  # noqa: ANN201
    """Finish signing in: check the provider's answer, open a browser session, go to the app."""
    # Whatever happens, this sign-in's state is used up.
    cleared = _flow_cookie("", 0)
    try:
        user, secret = await _finish_sign_in()
    except OidcError as error:
        raise ApiError(error.status, error.code, error.detail, headers={"Set-Cookie": cleared}) from None
    # The app's home address, as a sign-in link leaves it (`#/`), not a bare `/`.
    response = redirect("/#/")
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    response.headers.add("Set-Cookie", session_cookie_header(secret, settings.browser_session_ttl_seconds))
    response.headers.add("Set-Cookie", cleared)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _finish_sign_in() -> tuple[dict, str]:
    flow = request.cookies.get(_flow_cookie_name(), "").split(".")
    if len(flow) != 3 or not all(flow):
        raise OidcError(
            400,
            "oidc_sign_in_not_started",
            "This sign-in was not started in this browser, or took longer than "
            f"{FLOW_SECONDS // 60} minutes (or cookies are blocked): start again from the sign-in page.",
        )
    state, nonce, verifier = flow
    if not hmac.compare_digest(request.args.get("state", "").encode(), state.encode()):
        raise OidcError(
            400,
            "oidc_state_mismatch",
            "This answer from the sign-in provider is not for the sign-in this browser started: start again "
            "from the sign-in page.",
        )
    if "error" in request.args:
        error = request.args["error"]
        shown = error if error.isascii() and error.replace("_", "").isalnum() and len(error) <= 64 else "unknown_error"
        raise OidcError(400, "oidc_provider_error", f"The sign-in provider did not sign you in ({shown}).")
    code = request.args.get("code", "")
    if not code:
        raise OidcError(
            400, "oidc_code_missing", "The sign-in provider sent no code: start again from the sign-in page."
        )
    client = current_app.oidc
    id_token = await client.exchange_code(code, verifier)
    claims = await client.verified_claims(id_token, nonce)
    person = person_from_claims(claims, client.config)
    settings = current_app.config["CHATTRAIN_SETTINGS"]
    try:
        return await current_app.db.write(
            sign_in_oidc_user,
            person.user_id,
            role=person.role,
            display_name=person.display_name,
            create=client.config.create_users,
            now=time.time(),
            session_ttl_seconds=settings.browser_session_ttl_seconds,
        )
    except SignInRefused as refused:
        raise OidcError(403, refused.code, refused.detail) from None


def _flow_cookie_name() -> str:
    return SECURE_FLOW_COOKIE if served_over_https(request.scheme) else FLOW_COOKIE


def _flow_cookie(value: str, max_age: int) -> str:
    """The sign-in-in-progress cookie. SameSite=Lax, not Strict like the session cookie:
    the provider's redirect back is a navigation from another site, which a Strict cookie
    would not come with."""
    secure = "; Secure" if served_over_https(request.scheme) else ""
    return f"{_flow_cookie_name()}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
