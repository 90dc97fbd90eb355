"""Signing in to the web app by link: a single-use, short-lived code exchanged for an
HttpOnly, SameSite=Strict cookie; the API takes the cookie beside Bearer tokens, refuses
cookie-signed writes without the CSRF token and cookie-signed sockets from other origins."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time

import pytest

from shared.db.browser_sessions import insert_sign_in_code
from shared.db.limits import LimitExceeded, RateLimit
from shared.db.users import update_user_disabled, update_user_token
from shared.settings import Settings
from tests.conftest import create_test_user
from tests.support.stack import REPO_ROOT
from web.address_limits import AddressFailures
from web.app import create_app
from web.auth import SECURE_SESSION_COOKIE, SESSION_COOKIE


async def _code(app, user_id: str, ttl: float = 60) -> str:
    return await app.app.db.write(insert_sign_in_code, user_id, now=time.time(), ttl_seconds=ttl)


async def _sign_in(app, client, user_id: str) -> dict:
    response = await client.post("/api/sign-in", json={"code": await _code(app, user_id)})
    assert response.status_code == 200
    return await response.get_json()


async def test_a_code_signs_in_once_with_an_httponly_strict_cookie(app, client, users):
    code = await _code(app, users.trainee.id)
    response = await client.post("/api/sign-in", json={"code": code})
    assert response.status_code == 200
    me = await response.get_json()
    assert me["id"] == users.trainee.id and me["role"] == "trainee" and me["csrf_token"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS adds it (next test)
    again = await app.app.test_client().post("/api/sign-in", json={"code": code})
    assert again.status_code == 400 and (await again.get_json())["code"] == "sign_in_link_invalid"
    # The cookie now signs API calls in, and /api/me hands the page its CSRF token.
    shown = await client.get("/api/me")
    assert shown.status_code == 200 and (await shown.get_json())["csrf_token"] == me["csrf_token"]


async def test_the_cookie_is_secure_over_https(app, client, users):
    response = await client.post("/api/sign-in", json={"code": await _code(app, users.trainee.id)}, scheme="https")
    assert "Secure" in response.headers["Set-Cookie"]


async def test_an_expired_or_made_up_code_is_refused_with_a_sentence(app, client, users):
    expired = await _code(app, users.trainee.id, ttl=-1)
    for code in (expired, "made-up"):
        response = await client.post("/api/sign-in", json={"code": code})
        body = await response.get_json()
        assert response.status_code == 400 and body["code"] == "sign_in_link_invalid" and body["field"] == "code"
        assert "Ask your trainer" in body["detail"]
    response = await client.post("/api/sign-in", json={})
    assert response.status_code == 400 and (await response.get_json())["field"] == "code"


async def test_a_cookie_write_needs_the_csrf_token(app, client, users):
    me = await _sign_in(app, client, users.trainee.id)
    refused = await client.post("/api/sessions", json={"scenario_id": 1})
    assert refused.status_code == 403 and (await refused.get_json())["code"] == "csrf_failed"
    wrong = await client.post("/api/sessions", json={"scenario_id": 1}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert created.status_code == 201 and (await created.get_json())["user_id"] == users.trainee.id


async def test_sign_out_ends_the_browser_session(app, client, users):
    me = await _sign_in(app, client, users.trainee.id)
    cookie = client.cookie_jar  # keep a copy of the cookie as an attacker would
    secret = next(c.value for c in cookie if c.name == SESSION_COOKIE)
    response = await client.post("/api/sign-out", headers={"X-CSRF-Token": me["csrf_token"]})
    assert response.status_code == 200 and "Max-Age=0" in response.headers["Set-Cookie"]
    replay = await app.app.test_client().get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}={secret}"})
    assert replay.status_code == 401 and (await replay.get_json())["code"] == "unauthorized"


async def test_disabling_or_rotating_signs_browsers_out(app, users):
    for revoke in (update_user_token, update_user_disabled):
        client = app.test_client()
        await _sign_in(app, client, users.other.id)
        assert (await client.get("/api/me")).status_code == 200
        await app.app.db.write(revoke, users.other.id)
        assert (await client.get("/api/me")).status_code == 401
        if revoke is update_user_disabled:
            break


async def test_a_cookie_socket_needs_an_allowed_origin(app, client, users):
    await _sign_in(app, client, users.trainee.id)
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await created.get_json())["id"]
    secret = next(c.value for c in client.cookie_jar if c.name == SESSION_COOKIE)
    for origin, expected in (
        ("http://evil.example", "unauthorized"),
        (None, "unauthorized"),
        ("http://localhost", "session_start"),
    ):
        headers = {"Cookie": f"{SESSION_COOKIE}={secret}"}
        if origin:
            headers["Origin"] = origin
        async with app.test_client().websocket(f"/chat/{session_id}", headers=headers) as ws:
            if expected == "session_start":
                await ws.send(json.dumps({"type": "session_start"}))
            frame = json.loads(await ws.receive())
            assert frame["type" if expected == "session_start" else "code"] == expected, (origin, frame)


async def test_an_expired_browser_session_no_longer_signs_in(app, users):
    from shared.db.browser_sessions import exchange_sign_in_code

    code = await _code(app, users.trainee.id)
    _user, secret = await app.app.db.write(exchange_sign_in_code, code, now=time.time(), session_ttl_seconds=-1)
    response = await app.test_client().get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}={secret}"})
    assert response.status_code == 401 and "expired" in (await response.get_json())["detail"]


async def test_rotating_or_disabling_deletes_the_users_unused_sign_in_links(app, users):
    """A link made before the rotation must not sign in after it (nor after a re-enable)."""
    for revoke in (update_user_token, update_user_disabled):
        code = await _code(app, users.other.id)
        await app.app.db.write(revoke, users.other.id)
        if revoke is update_user_disabled:
            await app.app.db.write(update_user_disabled, users.other.id, disabled=False)
        response = await app.test_client().post("/api/sign-in", json={"code": code})
        assert response.status_code == 400 and (await response.get_json())["code"] == "sign_in_link_invalid"
    # Another user's link is untouched.
    assert (
        await app.test_client().post("/api/sign-in", json={"code": await _code(app, users.trainee.id)})
    ).status_code == 200


async def test_over_https_the_cookie_is_a_host_cookie_and_only_that_name_signs_in(app, users):
    """Over HTTPS the cookie is `__Host-` prefixed (Secure, Path=/, no Domain), so a page on
    a sibling subdomain cannot set one that shadows it; a plain-named cookie is not read
    there. Over plain HTTP (local development) the name stays plain."""
    client = app.test_client()
    response = await client.post("/api/sign-in", json={"code": await _code(app, users.trainee.id)}, scheme="https")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SECURE_SESSION_COOKIE}=") and "; Secure" in cookie and "; Path=/;" in cookie
    assert "Domain" not in cookie
    secret = cookie.split(";")[0].split("=", 1)[1]
    me = await response.get_json()
    fresh = app.test_client()
    signed_in = await fresh.get("/api/me", headers={"Cookie": f"{SECURE_SESSION_COOKIE}={secret}"}, scheme="https")
    assert signed_in.status_code == 200 and (await signed_in.get_json())["id"] == users.trainee.id
    tossed = await fresh.get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}={secret}"}, scheme="https")
    assert tossed.status_code == 401
    created = await fresh.post(
        "/api/sessions", json={"scenario_id": 1}, headers={**users.trainee.headers}, scheme="https"
    )
    session_id = (await created.get_json())["id"]
    headers = {"Cookie": f"{SECURE_SESSION_COOKIE}={secret}", "Origin": "https://localhost"}
    async with fresh.websocket(f"/chat/{session_id}", headers=headers, scheme="wss") as ws:
        assert json.loads(await ws.receive())["type"] == "session_start"
    signed_out = await fresh.post(
        "/api/sign-out",
        headers={"Cookie": f"{SECURE_SESSION_COOKIE}={secret}", "X-CSRF-Token": me["csrf_token"]},
        scheme="https",
    )
    assert (
        signed_out.headers["Set-Cookie"].startswith(f"{SECURE_SESSION_COOKIE}=;")
        and "Max-Age=0" in (signed_out.headers["Set-Cookie"])
    )
    again = await fresh.get("/api/me", headers={"Cookie": f"{SECURE_SESSION_COOKIE}={secret}"}, scheme="https")
    assert again.status_code == 401


@contextlib.asynccontextmanager
async def _started(tmp_path, database_url: str, **overrides):  # noqa: ANN001, ANN003, ANN202
    """The real app started on settings of the test's own choosing, with a trainee."""
    settings = Settings(
        data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url, **overrides
    )
    async with create_app(settings).test_app() as app:
        await create_test_user(app, "trainee", "trainee-1")
        yield app


async def test_a_public_https_address_makes_the_cookie_a_host_cookie_behind_a_plain_proxy(tmp_path, database_url):
    """Behind a proxy that terminates TLS the request arrives over http, but the browser
    sees https (CHATTRAIN_PUBLIC_BASE_URL): writing and reading agree on the prefixed name."""
    async with _started(tmp_path, database_url, public_base_url="https://chattrain.example") as app:
        client = app.test_client()
        response = await client.post("/api/sign-in", json={"code": await _code(app, "trainee-1")})
        assert response.headers["Set-Cookie"].startswith(f"{SECURE_SESSION_COOKIE}=")
        assert (await client.get("/api/me")).status_code == 200


def _client_at(app, address: str):  # noqa: ANN001, ANN202
    """A test client whose requests come from `address` (the ASGI scope's client)."""
    client = app.test_client()
    post = client.post

    async def post_from(path: str, **kwargs):  # noqa: ANN003, ANN202
        return await post(path, scope_base={"client": (address, 40000)}, **kwargs)

    client.post = post_from
    return client


async def test_wrong_codes_from_one_address_are_limited_with_a_429_and_retry_after(tmp_path, database_url):
    window = 4  # seconds; the requests below must fall within one window, on a loaded machine too
    async with _started(
        tmp_path, database_url, sign_in_failures_per_window=3, sign_in_failure_window_seconds=window
    ) as app:
        guesser, neighbour = _client_at(app, "203.0.113.7"), _client_at(app, "198.51.100.9")
        code = await _code(app, "trainee-1")  # made first: its write must not eat into the window
        for _ in range(3):
            assert (await guesser.post("/api/sign-in", json={"code": "wrong"})).status_code == 400
        refused = await guesser.post("/api/sign-in", json={"code": "wrong"})
        body = await refused.get_json()
        assert refused.status_code == 429 and body["code"] == "rate_limited", body
        assert 1 <= int(refused.headers["Retry-After"]) <= window and body["retry_after_seconds"] >= 1
        assert "wrong sign-in codes" in body["detail"]
        # While over the limit even a good code is refused, and it is not used up by that.
        assert (await guesser.post("/api/sign-in", json={"code": code})).status_code == 429
        # Another address is not affected.
        assert (await neighbour.post("/api/sign-in", json={"code": "wrong"})).status_code == 400
        await asyncio.sleep(int(refused.headers["Retry-After"]))
        assert (await guesser.post("/api/sign-in", json={"code": code})).status_code == 200


async def test_only_wrong_codes_count_towards_the_limit(tmp_path, database_url):
    async with _started(tmp_path, database_url, sign_in_failures_per_window=2) as app:
        client = _client_at(app, "203.0.113.8")
        for _ in range(4):
            response = await client.post("/api/sign-in", json={"code": await _code(app, "trainee-1")})
            assert response.status_code == 200


def _hold_the_write_lock(database_url: str, settings: Settings):  # noqa: ANN202
    """Hold the database's write lock from another connection, as a busy writer in another
    process would; reads still go through. Returns the function that lets go."""
    if not database_url:
        conn = sqlite3.connect(settings.data_dir / "chattrain.db", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        return lambda: (conn.rollback(), conn.close())
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    conn = engine.connect()
    transaction = conn.begin()
    conn.execute(text("LOCK TABLE sign_in_codes IN EXCLUSIVE MODE"))  # writes wait, reads do not
    return lambda: (transaction.rollback(), conn.close(), engine.dispose())


async def test_a_wrong_code_is_refused_by_a_read_alone(app, client, settings, database_url):
    """No write transaction for a wrong code: it is refused at once even while another
    writer holds the write lock (a guess used to queue for it like any write)."""
    release = _hold_the_write_lock(database_url, settings)
    try:
        started = time.monotonic()
        response = await asyncio.wait_for(client.post("/api/sign-in", json={"code": "made-up-code"}), 3)
        assert response.status_code == 400 and (await response.get_json())["code"] == "sign_in_link_invalid"
        assert time.monotonic() - started < 1
    finally:
        release()


def test_an_ipv6_client_is_counted_by_its_64_block():
    """Stepping through the addresses of one /64 (one subscriber's block) does not reset
    the count; another block, or an IPv4 client, has its own."""
    failures = AddressFailures(RateLimit("wrong sign-in code", 2, 60))
    failures.record("2001:db8:1:2::1", now=0)
    failures.record("2001:db8:1:2::ffff", now=0)
    with pytest.raises(LimitExceeded):
        failures.check("2001:db8:1:2:abcd::9", now=1)
    failures.check("2001:db8:1:3::1", now=1)
    failures.check("::ffff:203.0.113.7", now=1)
    failures.check("2001:db8:1:2::1", now=61)  # a new window
