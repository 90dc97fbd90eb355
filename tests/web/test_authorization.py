"""Who may call what. The matrix walks the app's URL map, so a route added later is
covered without touching this file: every route x {anonymous, own trainee, other trainee,
trainer}. Then the chat socket (subprotocol and ticket), tokens that stop working, and
insecure-dev mode."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
from quart.testing.connections import WebsocketDisconnectError
from werkzeug.routing import Map, Rule

from shared.db.messages import select_messages
from shared.db.users import insert_ws_ticket, update_user_disabled, update_user_token
from shared.settings import Settings
from tests.support.client import open_socket, read_session_start
from tests.support.stack import REPO_ROOT
from web.app import create_app
from web.auth import AUTH_ATTRIBUTE

PUBLIC_PATHS = {
    "/api/health",
    "/openapi.json",
    "/docs",
    "/redocs",
    "/apidocs/<path:asset>",
    "/",
    "/app/<path:asset>",
    "/api/sign-in",
    "/livez",
    "/readyz",
}
# Public routes that answer the matrix's sample request with a refusal of their own.
PUBLIC_STATUS = {
    "/api/sign-in": 400,  # a made-up sign-in code
    "/readyz": 503,  # no worker runs beside the test app
}
# Routes guarded by a setting's token rather than a user's: off (404 to everyone, signed
# in or not) while the setting is empty, as it is here (tests/web/test_metrics.py).
OWN_TOKEN_PATHS = {"/metrics"}
# Public paths that show more to a signed-in caller (and check a token that is sent).
OPTIONAL_AUTH_PATHS = {"/api/health"}
# A value for each URL argument the matrix may meet; a new argument name fails loudly.
SAMPLE_ARGUMENTS = {
    "ident": "1",
    "scenario_id": "1",
    "filename": "billing_and_refund_policy.md",
    "user_id": "trainee-2",
}
# Each asset route's sample file.
SAMPLE_ASSETS = {"/apidocs/<path:asset>": "swagger-init.js", "/app/<path:asset>": "main.js"}
SAMPLE_BODIES = {
    ("POST", "/api/sessions"): {"scenario_id": 1},
    ("POST", "/api/sign-in"): {"code": "not-a-code"},
    ("POST", "/api/people"): {"id": "matrix-new", "role": "trainee"},
    ("PATCH", "/api/people/<user_id>"): {"disabled": True},
    ("POST", "/api/sign-in-links"): {"user_ids": ["trainee-2"]},
    ("POST", "/api/people-import"): {"csv": "user_id,role\nmatrix-csv,trainee\n"},
}
WHO = ("anonymous", "own", "other", "trainer")


def _url_map():
    return create_app(
        Settings(data_dir=Path(tempfile.mkdtemp()) / "data", scenarios_dir=REPO_ROOT / "scenarios")
    ).url_map


HTTP_ROUTES = sorted(
    (rule.rule, method, rule.endpoint)
    for rule in _url_map().iter_rules()
    if not rule.websocket
    for method in rule.methods - {"HEAD", "OPTIONS"}
)


def _fill(rule: str, session_id: int) -> str:
    """The rule's URL with a sample value for each argument."""
    url_map = Map([Rule(rule, endpoint="x")])
    arguments = {}
    for name in next(url_map.iter_rules()).arguments:
        if name == "session_id":
            arguments[name] = session_id
        elif name == "asset" and rule in SAMPLE_ASSETS:
            arguments[name] = SAMPLE_ASSETS[rule]
        elif name in SAMPLE_ARGUMENTS:
            arguments[name] = SAMPLE_ARGUMENTS[name]
        else:
            pytest.fail(f"no sample value for the URL argument {name!r} of {rule}: add one to SAMPLE_ARGUMENTS")
    return url_map.bind("localhost").build("x", arguments)


async def _call(client, method: str, rule: str, url: str, headers: dict):  # noqa: ANN001, ANN202
    body = SAMPLE_BODIES.get((method, rule))
    return await client.open(
        url, method=method, headers=headers, json=body if method in ("POST", "PUT", "PATCH") else None
    )


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(("rule", "method", "endpoint"), HTTP_ROUTES)
async def test_authorization_matrix(app, client, users, rule, method, endpoint, who):
    own_session = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await own_session.get_json())["id"]
    url = _fill(rule, session_id)
    caller = {"anonymous": None, "own": users.trainee, "other": users.other, "trainer": users.trainer}[who]
    response = await _call(client, method, rule, url, caller.headers if caller else {})
    try:
        body = json.loads(await response.get_data(as_text=True))
    except ValueError:
        body = {}  # a page or a document, not JSON
    code = body.get("code") if isinstance(body, dict) else None
    assert response.status_code < 500 or PUBLIC_STATUS.get(rule) == response.status_code, (url, body)

    if rule in OWN_TOKEN_PATHS:
        assert response.status_code == 404 and code == "not_found", (url, who, body)
        return
    if rule in PUBLIC_PATHS:
        assert response.status_code == PUBLIC_STATUS.get(rule, 200), (url, who)
        return
    trainer_only = getattr(app.app.view_functions[endpoint], AUTH_ATTRIBUTE, None) == "trainer"
    session_scoped = "session_id" in rule
    if who == "anonymous":
        assert response.status_code == 401 and code == "unauthorized", (url, response.status_code, body)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif who in ("own", "other") and trainer_only:
        assert response.status_code == 403 and code == "forbidden", (url, who, body)
    elif who == "other" and session_scoped:
        # Exactly what a session that does not exist gets: the id is not confirmed.
        assert response.status_code == 404 and code == "session_not_found", (url, body)
    else:
        assert response.status_code not in (401, 403), (url, who, response.status_code, body)
        assert code != "session_not_found", (url, who, body)


async def test_every_non_public_route_requires_authentication(app):
    """Policy: each route, HTTP or WebSocket, is public by name or carries an auth
    decorator (require_user, require_trainer or require_socket_user)."""
    quart_app = app.app
    unguarded = [
        rule.rule
        for rule in quart_app.url_map.iter_rules()
        if rule.rule not in PUBLIC_PATHS
        and getattr(quart_app.view_functions[rule.endpoint], AUTH_ATTRIBUTE, None) is None
    ]
    assert unguarded == []
    public = {rule.rule for rule in quart_app.url_map.iter_rules() if rule.rule in PUBLIC_PATHS}
    assert public == PUBLIC_PATHS


async def test_openapi_documents_bearer_auth_on_every_guarded_operation(client):
    spec = await (await client.get("/openapi.json")).get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in OPTIONAL_AUTH_PATHS:
                expected = [{}, {"bearerAuth": []}]
            else:
                expected = [] if path in PUBLIC_PATHS else [{"bearerAuth": []}]
            assert operation.get("security", []) == expected, (method, path)


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"],
)
async def test_a_bad_authorization_header_is_401(client, users, header):
    response = await client.get("/api/scenarios", headers={"Authorization": header})
    assert response.status_code == 401
    assert (await response.get_json())["code"] == "unauthorized"


async def test_a_disabled_user_or_a_rotated_token_stops_working_at_once(app, client, users):
    assert (await client.get("/api/me", headers=users.trainee.headers)).status_code == 200
    await app.app.db.write(update_user_disabled, "trainee-1", disabled=True)
    assert (await client.get("/api/me", headers=users.trainee.headers)).status_code == 401
    new_token = await app.app.db.write(update_user_token, "trainer-1")
    assert (await client.get("/api/me", headers=users.trainer.headers)).status_code == 401
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {new_token}"})
    assert (await me.get_json()) == {"id": "trainer-1", "role": "trainer", "display_name": None, "csrf_token": None}


async def test_a_trainee_session_list_filter_is_forced_to_their_own_id(app, users):
    from quart import g

    from web.auth import sessions_user_filter

    async with app.app.app_context():
        g.user = {"id": "trainee-1", "role": "trainee"}
        assert sessions_user_filter("trainee-2") == "trainee-1"
        assert sessions_user_filter(None) == "trainee-1"
        g.user = {"id": "trainer-1", "role": "trainer"}
        assert sessions_user_filter("trainee-2") == "trainee-2"
        assert sessions_user_filter(None) is None


# The chat socket ----------------------------------------------------------------------


async def _session(client, user) -> int:  # noqa: ANN001
    response = await client.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
    assert response.status_code == 201
    return (await response.get_json())["id"]


async def _first_frame(ws) -> dict:  # noqa: ANN001
    return json.loads(await ws.receive())


async def _assert_closed(ws, code: int, error_code: str) -> None:  # noqa: ANN001
    frame = await _first_frame(ws)
    assert frame["type"] == "error" and frame["code"] == error_code
    with pytest.raises(WebsocketDisconnectError) as closed:
        await ws.receive()
    assert closed.value.args[0] == code


async def _assert_open(ws) -> None:  # noqa: ANN001
    await read_session_start(ws)
    await ws.send(json.dumps({"type": "ping"}))
    assert (await _first_frame(ws))["type"] == "pong"


async def _ticket(client, user) -> str:  # noqa: ANN001
    response = await client.post("/api/ws-ticket", headers=user.headers)
    assert response.status_code == 201
    body = await response.get_json()
    assert body["expires_in_seconds"] == 60 and body["expires_at"].endswith("+00:00")
    return body["ticket"]


async def test_socket_without_credentials_is_refused_with_4401(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}") as ws:
        await _assert_closed(ws, 4401, "unauthorized")


async def test_socket_with_a_bad_token_is_refused_with_4401(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", subprotocols=["chattrain.v1", "bearer.nope"]) as ws:
        await _assert_closed(ws, 4401, "unauthorized")


async def test_socket_owner_connects_with_the_subprotocol_token(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _assert_open(ws)


async def test_socket_owner_connects_with_an_authorization_header(client, users):
    session_id = await _session(client, users.trainee)
    async with client.websocket(f"/chat/{session_id}", headers=users.trainee.headers) as ws:
        await _assert_open(ws)


async def test_another_trainees_session_is_closed_like_an_unknown_one(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.other) as ws:
        await _assert_closed(ws, 4404, "session_not_found")
    ticket = await _ticket(client, users.other)
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        await _assert_closed(ws, 4404, "session_not_found")


async def test_a_ticket_opens_the_socket_once(client, users):
    session_id = await _session(client, users.trainee)
    ticket = await _ticket(client, users.trainee)
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        await _assert_open(ws)
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        await _assert_closed(ws, 4401, "unauthorized")


async def test_an_expired_ticket_is_refused(app, client, users):
    session_id = await _session(client, users.trainee)
    # Expired by either clock (the database's on PostgreSQL, shared/db/dbclock.py).
    ticket, _ = await app.app.db.write(
        insert_ws_ticket, user_id="trainee-1", credentials_revision=0, now=time.time(), ttl_seconds=-1
    )
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        await _assert_closed(ws, 4401, "unauthorized")


async def test_a_disabled_users_ticket_is_refused(app, client, users):
    session_id = await _session(client, users.trainee)
    ticket = await _ticket(client, users.trainee)
    await app.app.db.write(update_user_disabled, "trainee-1", disabled=True)
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        await _assert_closed(ws, 4401, "unauthorized")


async def test_ws_ticket_requires_a_token(client, users):
    assert (await client.post("/api/ws-ticket")).status_code == 401


async def test_a_trainer_may_watch_a_session_but_not_write_to_it(app, client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainer) as ws:
        await _assert_open(ws)
        await ws.send(json.dumps({"type": "user_message", "content": "hello from the trainer"}))
        frame = await _first_frame(ws)
        assert frame["type"] == "error" and frame["code"] == "read_only"
    messages = await app.app.db.read(select_messages, session_id)
    assert [m["role"] for m in messages] == ["assistant"]


# Insecure development mode -------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", ""])
def test_insecure_dev_mode_refuses_a_non_loopback_bind(tmp_path, host):
    with pytest.raises(RuntimeError, match="insecure-dev"):
        create_app(Settings(data_dir=tmp_path, auth_mode="insecure-dev", host=host))


def test_insecure_dev_mode_reads_the_bind_address_from_chattrain_host(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATTRAIN_AUTH_MODE", "insecure-dev")
    monkeypatch.setenv("CHATTRAIN_HOST", "0.0.0.0")  # every interface
    with pytest.raises(RuntimeError):
        create_app(Settings(data_dir=tmp_path))
    monkeypatch.setenv("CHATTRAIN_HOST", "127.0.0.1")
    create_app(Settings(data_dir=tmp_path))
    monkeypatch.delenv("CHATTRAIN_HOST")  # the default is loopback
    create_app(Settings(data_dir=tmp_path))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_insecure_dev_mode_starts_on_loopback(tmp_path, host):
    create_app(Settings(data_dir=tmp_path, auth_mode="insecure-dev", host=host))


async def test_insecure_dev_mode_trusts_the_body_user_id_but_still_checks_tokens(tmp_path, database_url):
    settings = Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        auth_mode="insecure-dev",
        host="127.0.0.1",
    )
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        created = await client.post("/api/sessions", json={"scenario_id": 1, "user_id": "alice"})
        assert created.status_code == 201
        session = await created.get_json()
        assert session["user_id"] == "alice"
        assert (await client.get(f"/api/sessions/{session['id']}")).status_code == 200
        assert (await client.get("/api/scenarios", headers={"Authorization": "Bearer wrong"})).status_code == 401
        async with client.websocket(f"/chat/{session['id']}") as ws:
            await _assert_open(ws)


@pytest.fixture(name="insecure_app")
async def _insecure_app(tmp_path, database_url):
    settings = Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        auth_mode="insecure-dev",
        host="127.0.0.1",
    )
    async with create_app(settings).test_app() as test_app:
        yield test_app


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "localhost"])
async def test_insecure_dev_mode_trusts_this_machines_own_pages(insecure_app, host):
    """`make run`'s address (and the other loopback names) keep working without a token,
    from the page itself (same Origin) or from a script (no Origin)."""
    client = insecure_app.test_client()
    scheme_host = f"http://{host}"
    for headers in ({"Host": host}, {"Host": host, "Origin": scheme_host}):
        created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=headers)
        assert created.status_code == 201, (headers, await created.get_json())
        session_id = (await created.get_json())["id"]
        async with client.websocket(f"/chat/{session_id}", headers=headers) as ws:
            await _assert_open(ws)


async def test_insecure_dev_mode_does_not_trust_a_host_off_the_allowed_list(insecure_app):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 is the
    same origin as itself, so only the Host header tells it apart."""
    client = insecure_app.test_client()
    headers = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
    for sent in (headers, {"Host": "evil.example:8000"}):
        refused = await client.get("/api/sessions", headers=sent)
        body = await refused.get_json()
        assert refused.status_code == 401 and body["code"] == "unauthorized" and "host" in body["detail"], body
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=headers)
    assert created.status_code == 401
    assert await insecure_app.app.db.read(_count_sessions) == 0  # nothing stored
    own = await client.post("/api/sessions", json={"scenario_id": 1})
    session_id = (await own.get_json())["id"]
    async with client.websocket(f"/chat/{session_id}", headers=headers) as ws:
        await _assert_closed(ws, 4401, "unauthorized")
    # A public route still answers, as to anyone without a token.
    assert (await client.get("/api/health", headers=headers)).status_code == 200


async def test_insecure_dev_mode_does_not_trust_another_sites_page(insecure_app):
    """A page on another origin (any site the developer visits) may not act as the
    trusted developer, over HTTP or the chat socket."""
    client = insecure_app.test_client()
    own = await client.post("/api/sessions", json={"scenario_id": 1})
    session_id = (await own.get_json())["id"]
    for origin in ("http://evil.example", "http://localhost:3000", "null"):
        headers = {"Origin": origin}
        refused = await client.post("/api/sessions", json={"scenario_id": 1}, headers=headers)
        body = await refused.get_json()
        assert refused.status_code == 401 and "origin" in body["detail"], (origin, body)
        async with client.websocket(f"/chat/{session_id}", headers=headers) as ws:
            await _assert_closed(ws, 4401, "unauthorized")
    assert await insecure_app.app.db.read(_count_sessions) == 1


def _count_sessions(conn) -> int:  # noqa: ANN001
    from sqlalchemy import func, select

    from shared.db.schema import sessions

    return conn.execute(select(func.count()).select_from(sessions)).scalar_one()
