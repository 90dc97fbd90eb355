"""Per-user abuse limits: over a limit the HTTP API answers 429 with Retry-After, the
socket sends a rate_limited error frame, and nothing is stored. The counters live in the
database, so two web processes on one database share them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from shared.db.limits import LimitExceeded, RateLimit, hit_rate_limit
from shared.db.messages import select_messages
from shared.db.sessions import complete_session, select_sessions
from shared.db.users import insert_user
from shared.settings import Settings
from tests.support.client import AuthUser, open_socket
from tests.support.stack import REPO_ROOT
from web.app import create_app

SMALL_LIMITS = {
    "messages_per_window": 3,
    "sessions_per_window": 2,
    "max_active_sessions_per_user": 0,
    "ws_tickets_per_window": 2,
}


@pytest.fixture(name="settings")
def _settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url, **SMALL_LIMITS
    )


async def _recv_type(ws, type: str) -> dict:  # noqa: ANN001
    while True:
        frame = json.loads(await asyncio.wait_for(ws.receive(), 5))
        if frame["type"] == type:
            return frame


async def _say(ws, text: str) -> dict:  # noqa: ANN001
    """Send a trainee message; return the ack or the error frame that answers it."""
    await ws.send(json.dumps({"type": "user_message", "content": text}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.receive(), 5))
        if frame["type"] in ("message_ack", "error"):
            return frame


def _assert_rate_limited(response, body: dict) -> None:  # noqa: ANN001
    assert response.status_code == 429
    assert body["code"] == "rate_limited" and body["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after == body["retry_after_seconds"] and 1 <= retry_after <= 3600


async def test_session_creation_over_the_limit_is_429_with_retry_after(app, client, users):
    for _ in range(2):
        assert (
            await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
        ).status_code == 201
    refused = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    _assert_rate_limited(refused, await refused.get_json())
    assert len(await app.app.db.read(select_sessions, user_id="trainee-1")) == 2
    # Per user: someone else is not affected.
    assert (await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.other.headers)).status_code == 201


async def test_ws_ticket_requests_are_rate_limited(client, users):
    for _ in range(2):
        assert (await client.post("/api/ws-ticket", headers=users.trainee.headers)).status_code == 201
    refused = await client.post("/api/ws-ticket", headers=users.trainee.headers)
    _assert_rate_limited(refused, await refused.get_json())


async def test_too_many_open_sessions_is_429_until_one_ends(tmp_path, database_url):
    settings = Settings(
        data_dir=tmp_path / "other",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        max_active_sessions_per_user=2,
    )
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        token = await app.db.write(insert_user, user_id="t", role="trainee")
        auth = {"Authorization": f"Bearer {token}"}
        ids = [
            (await (await client.post("/api/sessions", json={"scenario_id": 1}, headers=auth)).get_json())["id"]
            for _ in range(2)
        ]
        refused = await client.post("/api/sessions", json={"scenario_id": 1}, headers=auth)
        assert refused.status_code == 429
        assert (await refused.get_json())["code"] == "too_many_active_sessions"
        await app.db.write(complete_session, ids[0], ended_by="trainee")
        assert (await client.post("/api/sessions", json={"scenario_id": 1}, headers=auth)).status_code == 201


async def test_socket_message_over_the_limit_gets_an_error_frame_and_is_not_stored(app, client, users):
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await created.get_json())["id"]
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        for number in range(3):
            assert (await _say(ws, f"message {number}"))["type"] == "message_ack"
        refused = await _say(ws, "one too many")
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert 1 <= refused["retry_after_seconds"] <= 60
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv_type(ws, "pong"))["type"] == "pong"
    messages = await app.app.db.read(select_messages, session_id)
    assert [m["content"] for m in messages if m["role"] == "user"] == ["message 0", "message 1", "message 2"]


async def test_a_resent_message_is_acknowledged_without_counting_against_the_limit(client, users):
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await created.get_json())["id"]
    frame = json.dumps({"type": "user_message", "content": "hello", "metadata": {"client_message_id": "c-1"}})
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        for _ in range(5):
            await ws.send(frame)
            assert (await _recv_type(ws, "message_ack"))["type"] == "message_ack"


@contextlib.asynccontextmanager
async def _two_apps(settings: Settings):
    first, second = create_app(settings), create_app(settings)
    async with first.test_app() as one, second.test_app() as two:
        yield one, two


async def test_limits_hold_across_two_web_processes_on_one_database(settings):
    async with _two_apps(settings) as (one, two):
        token = await one.app.db.write(insert_user, user_id="shared-trainee", role="trainee")
        user = AuthUser(id="shared-trainee", role="trainee", token=token)
        client_one, client_two = one.test_client(), two.test_client()

        first = await client_one.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
        second = await client_two.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
        assert (first.status_code, second.status_code) == (201, 201)
        third = await client_one.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
        assert third.status_code == 429

        session_id = (await first.get_json())["id"]
        async with (
            open_socket(client_one, f"/chat/{session_id}", user) as ws_one,
            open_socket(client_two, f"/chat/{session_id}", user) as ws_two,
        ):
            assert (await _say(ws_one, "one"))["type"] == "message_ack"
            assert (await _say(ws_two, "two"))["type"] == "message_ack"
            assert (await _say(ws_one, "three"))["type"] == "message_ack"
            refused = await _say(ws_two, "four")
            assert refused["code"] == "rate_limited"
        messages = await one.app.db.read(select_messages, session_id)
        assert [m["content"] for m in messages if m["role"] == "user"] == ["one", "two", "three"]


def test_fixed_window_counts_per_window_and_prunes_old_windows(tmp_path):
    from shared.db.engine import create_sync_engine
    from shared.db.migrate import upgrade_to_head
    from shared.db.schema import rate_limit_hits

    url = f"sqlite:///{tmp_path / 'limits.db'}"
    upgrade_to_head(url)
    engine = create_sync_engine(url)
    limit = RateLimit("message", max_hits=2, window_seconds=60)
    with engine.begin() as conn:
        assert hit_rate_limit(conn, user_id="u", limit=limit, now=1000.0) == 1
        assert hit_rate_limit(conn, user_id="u", limit=limit, now=1010.0) == 2
    with pytest.raises(LimitExceeded) as refused, engine.begin() as conn:
        hit_rate_limit(conn, user_id="u", limit=limit, now=1019.5)
    assert refused.value.retry_after_seconds == 1  # the window 960-1020 ends in 0.5 s: rounded up
    with engine.begin() as conn:
        assert hit_rate_limit(conn, user_id="u", limit=limit, now=1020.0) == 1  # a new window
        assert conn.execute(rate_limit_hits.select()).fetchall() == [("u", "message", 1020, 1)]
        assert hit_rate_limit(conn, user_id="u", limit=RateLimit("message", 0, 60), now=1021.0) == 0  # 0: off
    engine.dispose()
