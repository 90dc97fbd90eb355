"""Signing in with an OpenID Connect provider: the whole flow through the real app (its
test client) and a real provider on loopback (tests/fakes/fake_oidc.py), reached over
HTTP by the app and by the test's own httpx client playing the browser's part."""

from __future__ import annotations

import socket
import time
from contextlib import AsyncExitStack
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.db.schema import browser_sessions
from shared.db.users import select_user, update_user_disabled
from shared.settings import Settings
from tests.conftest import create_test_user
from tests.fakes.fake_oidc import FakeOidcProvider, s256
from tests.support.stack import REPO_ROOT
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.blueprints.oidc import FLOW_COOKIE, SECURE_FLOW_COOKIE

CLIENT_SECRET = "s3cret-not-for-eyes"


@pytest.fixture(name="provider")
def _provider():
    with FakeOidcProvider(client_id="chattrain", client_secret=CLIENT_SECRET) as provider:
        provider.user = {"sub": "u-1", "email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace"}
        yield provider


@pytest.fixture(name="make_app")
async def _make_app(tmp_path, database_url, provider):
    """make_app(**settings) -> a running app with OIDC sign-in pointed at the fake provider
    (trainer group `trainers`, unknown users created), these settings changed."""
    async with AsyncExitStack() as stack:

        async def make(**overrides):  # noqa: ANN202
            values = {
                "data_dir": tmp_path / "data",
                "scenarios_dir": REPO_ROOT / "scenarios",
                "database_url": database_url,
                "public_base_url": "http://localhost",
                "oidc_issuer_url": provider.issuer,
                "oidc_provider_name": "Example SSO",
                "oidc_client_id": "chattrain",
                "oidc_client_secret": CLIENT_SECRET,
                "oidc_trainer_values": ("trainers",),
                **overrides,
            }
            return await stack.enter_async_context(create_app(Settings(**values)).test_app())

        yield make


@pytest.fixture(name="oidc_app")
async def _oidc_app(make_app):
    return await make_app()


@pytest.fixture(name="browser")
async def _browser():
    """The browser's part at the provider: follows nothing by itself."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as http:
        yield http


async def _to_provider_and_back(client, browser) -> str:
    """Start a sign-in, visit the provider, and return the callback path it sends back to."""
    start = await client.get("/api/oidc/login")
    assert start.status_code == 302, await start.get_data(as_text=True)
    at_provider = await browser.get(start.headers["Location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://localhost/api/oidc/callback"
    return f"{back.path}?{back.query}"


async def _sign_in(client, browser):  # noqa: ANN202
    return await client.get(await _to_provider_and_back(client, browser))


async def _signed_in_as(client) -> dict | None:
    response = await client.get("/api/me")
    return await response.get_json() if response.status_code == 200 else None


async def _session_count(app, user_id: str) -> int:
    def count(conn):  # noqa: ANN001, ANN202
        return len(conn.execute(browser_sessions.select().where(browser_sessions.c.user_id == user_id)).all())

    return await app.app.db.read(count)


async def test_signing_in_through_the_provider_opens_the_same_browser_session_as_a_link(oidc_app, provider, browser):
    client = oidc_app.test_client()
    start = await client.get("/api/oidc/login")
    assert start.status_code == 302
    flow_cookie = start.headers["Set-Cookie"]
    assert flow_cookie.startswith(f"{FLOW_COOKIE}=") and "HttpOnly" in flow_cookie and "SameSite=Lax" in flow_cookie
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert asked["response_type"] == ["code"] and asked["client_id"] == ["chattrain"]
    assert asked["code_challenge_method"] == ["S256"] and asked["state"][0] and asked["nonce"][0]
    assert asked["redirect_uri"] == ["http://localhost/api/oidc/callback"] and "openid" in asked["scope"][0].split()

    at_provider = await browser.get(start.headers["Location"])
    back = urlsplit(at_provider.headers["Location"])
    done = await client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302 and done.headers["Location"] == "/#/"
    cookies = done.headers.get_all("Set-Cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    assert any(c.startswith(f"{FLOW_COOKIE}=;") and "Max-Age=0" in c for c in cookies)  # the state is used up
    # The verifier sent with the code is the one whose challenge went to the provider.
    (exchange,) = provider.token_requests
    assert s256(exchange["code_verifier"]) == asked["code_challenge"][0]

    me = await _signed_in_as(client)
    assert me["id"] == "ada@example.com" and me["role"] == "trainee" and me["display_name"] == "Ada Lovelace"
    assert me["csrf_token"]  # a cookie session, like a link's
    user = await oidc_app.app.db.read(select_user, "ada@example.com")
    assert user["role"] == "trainee" and not user["disabled"] and user["last_sign_in_at"]


async def test_the_trainer_group_makes_a_trainer_and_leaving_it_a_trainee(oidc_app, provider, browser):
    provider.user = {**provider.user, "groups": ["staff", "trainers"]}
    client = oidc_app.test_client()
    await _sign_in(client, browser)
    assert (await _signed_in_as(client))["role"] == "trainer"
    assert (await client.get("/api/scenarios/1/stats")).status_code == 200  # a trainer's page

    provider.user = {**provider.user, "groups": ["staff"]}
    again = oidc_app.test_client()
    await _sign_in(again, browser)
    assert (await _signed_in_as(again))["role"] == "trainee"
    # The role is the user's, so the first browser is a trainee now too.
    assert (await _signed_in_as(client))["role"] == "trainee"
    assert (await client.get("/api/scenarios/1/stats")).status_code == 403


async def test_the_role_claim_may_be_a_single_string(make_app, provider, browser):
    app = await make_app(oidc_role_claim="role", oidc_user_id_claim="preferred_username")
    provider.user = {"sub": "u-2", "preferred_username": "grace", "role": "trainers"}
    client = app.test_client()
    await _sign_in(client, browser)
    me = await _signed_in_as(client)
    assert me["id"] == "grace" and me["role"] == "trainer"


async def test_without_trainer_values_an_existing_user_keeps_their_role(make_app, provider, browser):
    app = await make_app(oidc_trainer_values=())
    await create_test_user(app, "trainer", "ada@example.com")
    client = app.test_client()
    await _sign_in(client, browser)
    assert (await _signed_in_as(client))["role"] == "trainer"


async def test_unknown_users_are_refused_when_creation_is_off(make_app, provider, browser):
    app = await make_app(oidc_create_users=False)
    client = app.test_client()
    refused = await _sign_in(client, browser)
    body = await refused.get_json()
    assert refused.status_code == 403 and body["code"] == "oidc_user_unknown" and "ada@example.com" in body["detail"]
    assert await app.app.db.read(select_user, "ada@example.com") is None
    assert await _signed_in_as(client) is None
    # Once a trainer has added them, the same person signs in, and the People list shows when.
    await create_test_user(app, "trainee", "ada@example.com")
    assert (await app.app.db.read(select_user, "ada@example.com"))["last_sign_in_at"] is None
    await _sign_in(client, browser)
    assert (await _signed_in_as(client))["id"] == "ada@example.com"
    assert (await app.app.db.read(select_user, "ada@example.com"))["last_sign_in_at"]


async def test_a_disabled_user_is_refused(oidc_app, provider, browser):
    await create_test_user(oidc_app, "trainee", "ada@example.com")
    await oidc_app.app.db.write(update_user_disabled, "ada@example.com")
    client = oidc_app.test_client()
    refused = await _sign_in(client, browser)
    assert refused.status_code == 403 and (await refused.get_json())["code"] == "oidc_user_disabled"
    assert await _signed_in_as(client) is None
    assert await _session_count(oidc_app, "ada@example.com") == 0
    assert (await oidc_app.app.db.read(select_user, "ada@example.com"))["disabled"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sign_with_stranger": True}, "published keys"),
        ({"token_changes": {"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}}, "expired"),
        ({"token_changes": {"aud": "another-app"}}, "another application"),
        ({"token_changes": {"aud": ["another-app", "chattrain"]}}, "another party"),
        ({"token_changes": {"nonce": "not-this-sign-ins"}}, "nonce"),
        ({"token_changes": {"nonce": None}}, "nonce"),
        ({"token_changes": {"iss": "http://127.0.0.1:9/elsewhere"}}, "another provider"),
    ],
    ids=["forged", "expired", "wrong-audience", "extra-audience-no-azp", "wrong-nonce", "no-nonce", "wrong-issuer"],
)
async def test_a_bad_id_token_is_refused(oidc_app, provider, browser, change, reason):
    for name, value in change.items():
        setattr(provider, name, value)
    client = oidc_app.test_client()
    refused = await _sign_in(client, browser)
    body = await refused.get_json()
    assert refused.status_code == 400 and body["code"] == "oidc_token_invalid", body
    assert reason in body["detail"]
    text = await refused.get_data(as_text=True)
    assert CLIENT_SECRET not in text and "eyJ" not in text  # no secret, no token echoed
    assert await _signed_in_as(client) is None
    assert await oidc_app.app.db.read(select_user, "ada@example.com") is None


async def test_a_state_that_is_not_this_browsers_is_refused_before_the_code_is_used(oidc_app, provider, browser):
    client = oidc_app.test_client()
    callback = await _to_provider_and_back(client, browser)
    path, query = callback.split("?")
    params = {name: values[0] for name, values in parse_qs(query).items()}
    forged = await client.get(path, query_string={**params, "state": "someone-elses-state"})
    body = await forged.get_json()
    assert forged.status_code == 400 and body["code"] == "oidc_state_mismatch"
    assert provider.token_requests == []  # the code was never exchanged
    assert await _signed_in_as(client) is None


async def test_a_callback_in_a_browser_that_started_no_sign_in_is_refused(oidc_app, provider, browser):
    callback = await _to_provider_and_back(oidc_app.test_client(), browser)
    stranger = oidc_app.test_client()  # another browser: no sign-in cookie
    refused = await stranger.get(callback)
    assert refused.status_code == 400 and (await refused.get_json())["code"] == "oidc_sign_in_not_started"
    assert provider.token_requests == []


async def test_a_code_used_twice_is_refused_by_the_provider(oidc_app, provider, browser):
    client = oidc_app.test_client()
    callback = await _to_provider_and_back(client, browser)
    assert (await client.get(callback)).status_code == 302
    # A fresh sign-in's state with the old code: the provider refuses the code.
    start = await client.get("/api/oidc/login")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    old_code = parse_qs(urlsplit(callback).query)["code"][0]
    replay = await client.get("/api/oidc/callback", query_string={"code": old_code, "state": state})
    body = await replay.get_json()
    assert replay.status_code == 400 and body["code"] == "oidc_code_refused" and "invalid_grant" in body["detail"]


async def test_a_provider_that_declines_says_so(oidc_app, provider, browser):
    provider.authorize_error = "access_denied"
    client = oidc_app.test_client()
    refused = await _sign_in(client, browser)
    body = await refused.get_json()
    assert refused.status_code == 400 and body["code"] == "oidc_provider_error" and "access_denied" in body["detail"]


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"sub": "u-3", "name": "No Email"}, "oidc_claim_missing"),
        ({"sub": "u-3", "email": "has spaces@example.com"}, "oidc_user_id_invalid"),
        ({"sub": "u-3", "email": "eve@example.com", "email_verified": False}, "oidc_email_unverified"),
    ],
)
async def test_a_token_that_names_no_usable_user_is_refused(oidc_app, provider, browser, claims, code):
    provider.user = claims
    client = oidc_app.test_client()
    refused = await _sign_in(client, browser)
    assert refused.status_code == 403 and (await refused.get_json())["code"] == code
    assert await _signed_in_as(client) is None


async def test_the_sign_in_page_learns_the_providers_name(oidc_app):
    response = await oidc_app.test_client().get("/api/oidc")
    assert response.status_code == 200
    assert await response.get_json() == {"provider_name": "Example SSO", "login_url": "/api/oidc/login"}
    # It is part of the API; the login and callback are browser navigations (docs/api.md).
    document = await (await oidc_app.test_client().get("/openapi.json")).get_json()
    assert [path for path in document["paths"] if path.startswith("/api/oidc")] == ["/api/oidc"]


async def test_over_https_the_sign_in_cookie_is_host_prefixed_and_secure(make_app):
    app = await make_app(public_base_url="https://chattrain.example.com")
    start = await app.test_client().get("/api/oidc/login")
    cookie = start.headers["Set-Cookie"]
    assert cookie.startswith(f"{SECURE_FLOW_COOKIE}=") and "Secure" in cookie and "Path=/" in cookie
    redirect_uri = parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"]
    assert redirect_uri == ["https://chattrain.example.com/api/oidc/callback"]


async def test_an_unreachable_provider_is_a_clear_502(make_app):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app = await make_app(oidc_issuer_url=f"http://127.0.0.1:{port}")
    response = await app.test_client().get("/api/oidc/login")
    body = await response.get_json()
    assert response.status_code == 502 and body["code"] == "oidc_provider_unreachable"
    # Sign-in links and tokens do not depend on it.
    user = await create_test_user(app, "trainee", "trainee-9")
    assert (await app.test_client().get("/api/me", headers=user.headers)).status_code == 200


async def test_with_oidc_off_its_addresses_are_404_and_undocumented(app, client):
    for path in ("/api/oidc", "/api/oidc/login", "/api/oidc/callback?code=x&state=y"):
        response = await client.get(path)
        assert response.status_code == 404, path
    document = await (await client.get("/openapi.json")).get_json()
    assert not [path for path in document["paths"] if path.startswith("/api/oidc")]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"oidc_client_id": ""}, "CHATTRAIN_OIDC_CLIENT_ID"),
        ({"public_base_url": ""}, "CHATTRAIN_PUBLIC_BASE_URL"),
        ({"oidc_issuer_url": "http://login.example.com"}, "https"),
        ({"oidc_scopes": "email profile"}, "openid"),
        (
            {"oidc_client_secret": "", "oidc_client_secret_file": "/nonexistent/secret"},
            "CHATTRAIN_OIDC_CLIENT_SECRET_FILE",
        ),
    ],
)
def test_a_half_made_configuration_refuses_to_start(tmp_path, overrides, named):
    values = {
        "data_dir": tmp_path / "data",
        "public_base_url": "https://chattrain.example.com",
        "oidc_issuer_url": "https://login.example.com/realms/staff",
        "oidc_client_id": "chattrain",
        **overrides,
    }
    with pytest.raises(RuntimeError, match=named):
        create_app(Settings(**values))


async def test_the_client_secret_may_come_from_a_file(make_app, provider, browser, tmp_path):
    secret_file = tmp_path / "oidc-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    app = await make_app(oidc_client_secret="", oidc_client_secret_file=str(secret_file))
    client = app.test_client()
    assert (await _sign_in(client, browser)).status_code == 302
    assert (await _signed_in_as(client))["id"] == "ada@example.com"
