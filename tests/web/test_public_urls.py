"""websocket_url: built from CHATTRAIN_PUBLIC_BASE_URL, or from the request's Host only
when that host is allowed; otherwise relative, so a forged Host header cannot send a
client (and the token it connects with) to another server."""

from __future__ import annotations

import pytest

from shared.settings import Settings
from tests.support.stack import REPO_ROOT
from web.app import create_app


async def _websocket_url(client, users, host: str | None = None) -> str:  # noqa: ANN001
    headers = dict(users.trainee.headers)
    if host is not None:
        headers["Host"] = host
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=headers)
    assert created.status_code == 201
    session = await created.get_json()
    shown = await (await client.get(f"/api/sessions/{session['id']}", headers=headers)).get_json()
    assert shown["websocket_url"] == session["websocket_url"]
    return session["websocket_url"].replace(f"/chat/{session['id']}", "/chat/<id>")


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "localhost.evil.example",
        "localhost@evil.example",
        "evil.example#@localhost",
        "localhost:8000/evil",
        "localhost:8000@evil.example",
        "[::1]@evil.example",
        "",
    ],
)
async def test_a_host_that_is_not_allowed_gets_a_relative_url(client, users, host):
    assert await _websocket_url(client, users, host) == "/chat/<id>"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost:8000", "ws://localhost:8000/chat/<id>"),
        ("LOCALHOST:8000", "ws://LOCALHOST:8000/chat/<id>"),
        ("127.0.0.1:8000", "ws://127.0.0.1:8000/chat/<id>"),
        ("[::1]:8000", "ws://[::1]:8000/chat/<id>"),
        ("localhost", "ws://localhost/chat/<id>"),
    ],
)
async def test_a_loopback_host_is_allowed_by_default(client, users, host, expected):
    assert await _websocket_url(client, users, host) == expected


@pytest.fixture(name="configured_app")
async def _configured_app(tmp_path, database_url, request):
    settings = Settings(
        data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url, **request.param
    )
    async with create_app(settings).test_app() as test_app:
        yield test_app


@pytest.fixture(name="configured_users")
async def _configured_users(configured_app):
    from types import SimpleNamespace

    from tests.conftest import create_test_user

    return SimpleNamespace(trainee=await create_test_user(configured_app, "trainee", "trainee-1"))


@pytest.mark.parametrize("configured_app", [{"public_base_url": "https://chattrain.example.com/"}], indirect=True)
async def test_the_public_base_url_wins_over_any_host(configured_app, configured_users):
    client = configured_app.test_client()
    for host in ("evil.example", "localhost:8000"):
        assert await _websocket_url(client, configured_users, host) == "wss://chattrain.example.com/chat/<id>"


@pytest.mark.parametrize("configured_app", [{"allowed_hosts": ["ChatTrain.Internal"]}], indirect=True)
async def test_allowed_hosts_replace_the_default_list(configured_app, configured_users):
    client = configured_app.test_client()
    assert (
        await _websocket_url(client, configured_users, "chattrain.internal:8443")
        == "ws://chattrain.internal:8443/chat/<id>"
    )
    assert await _websocket_url(client, configured_users, "localhost:8000") == "/chat/<id>"


def test_allowed_hosts_come_from_a_json_list_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CHATTRAIN_ALLOWED_HOSTS", '["chattrain.internal", "[fd00::1]"]')
    assert Settings(data_dir=tmp_path).allowed_hosts == ("chattrain.internal", "fd00::1")
