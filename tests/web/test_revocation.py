"""Revoking a user's credentials (disabling them, rotating their token) reaches the chat
sockets they opened before: each gets a `token_revoked` error frame and is closed with
1008 within a second, and a frame it sends meanwhile is refused. Tickets minted before
the revocation no longer open a socket. (Across web processes: tests/e2e/test_auth.py.)"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from quart.testing.connections import WebsocketDisconnectError

from shared.db.browser_sessions import (
    csrf_token_for,
    delete_browser_session,
    exchange_sign_in_code,
    insert_sign_in_code,
)
from shared.db.messages import select_messages
from shared.db.users import insert_ws_ticket, select_user, update_user_disabled, update_user_token
from tests.support.client import open_socket, read_session_start
from web.auth import SESSION_COOKIE
from web.revocation import CredentialWatch

REVOKE = {
    "rotate-token": lambda user_id: (update_user_token, user_id),
    "disable": lambda user_id: (update_user_disabled, user_id),
}


async def _session(client, user) -> int:  # noqa: ANN001
    response = await client.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
    assert response.status_code == 201
    return (await response.get_json())["id"]


async def _connected(ws) -> None:  # noqa: ANN001
    """The socket is open: it got session_start and answers a ping."""
    await read_session_start(ws)
    await _ping(ws)


async def _ping(ws) -> None:  # noqa: ANN001
    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await ws.receive())["type"] == "pong"


async def _assert_revoked_within(ws, seconds: float, started: float) -> None:  # noqa: ANN001
    """The socket's next frame is token_revoked, then it closes with 1008, in time."""
    frame = json.loads(await asyncio.wait_for(ws.receive(), seconds))
    assert frame["type"] == "error" and frame["code"] == "token_revoked", frame
    with pytest.raises(WebsocketDisconnectError) as closed:
        await asyncio.wait_for(ws.receive(), seconds)
    assert closed.value.args[0] == 1008
    assert time.monotonic() - started < seconds


@pytest.mark.parametrize("how", REVOKE)
async def test_revoking_closes_the_users_open_socket_within_a_second(app, client, users, how):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _connected(ws)
        await app.app.db.write(*REVOKE[how]("trainee-1"))
        await _assert_revoked_within(ws, 1.0, time.monotonic())


async def test_a_watching_trainers_socket_is_closed_when_their_token_is_rotated(app, client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainer) as ws:
        await _connected(ws)
        await app.app.db.write(update_user_token, "trainer-1")
        await _assert_revoked_within(ws, 1.0, time.monotonic())


async def test_a_socket_opened_with_a_ticket_is_closed_too(app, client, users):
    session_id = await _session(client, users.trainee)
    ticket = (await (await client.post("/api/ws-ticket", headers=users.trainee.headers)).get_json())["ticket"]
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        await _connected(ws)
        await app.app.db.write(update_user_disabled, "trainee-1")
        await _assert_revoked_within(ws, 1.0, time.monotonic())


async def test_other_users_sockets_and_a_socket_opened_with_the_new_token_stay_open(app, client, users):
    own, others = await _session(client, users.trainee), await _session(client, users.other)
    async with open_socket(client, f"/chat/{others}", users.other) as other_ws:
        async with open_socket(client, f"/chat/{own}", users.trainee) as old_ws:
            await _connected(old_ws)
            new_token = await app.app.db.write(update_user_token, "trainee-1")
            await _assert_revoked_within(old_ws, 1.0, time.monotonic())
        new_subprotocols = ["chattrain.v1", f"bearer.{new_token}"]
        async with open_socket(client, f"/chat/{own}", subprotocols=new_subprotocols) as new_ws:
            await asyncio.sleep(1.2)  # more than two sweeps
            await _connected(new_ws)
        await _connected(other_ws)


async def test_a_frame_sent_after_the_revocation_is_refused(app, client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _connected(ws)
        await app.app.db.write(update_user_token, "trainee-1")
        await _assert_revoked_within(ws, 1.0, time.monotonic())
        await ws.send(json.dumps({"type": "user_message", "content": "still here?", "metadata": {}}))
        await asyncio.sleep(0.2)
    messages = await app.app.db.read(select_messages, session_id)
    assert [m["role"] for m in messages] == ["assistant"]  # only the opening line


@pytest.mark.parametrize("how", REVOKE)
async def test_a_ticket_minted_before_the_revocation_no_longer_opens_a_socket(app, client, users, how):
    session_id = await _session(client, users.trainee)
    ticket = (await (await client.post("/api/ws-ticket", headers=users.trainee.headers)).get_json())["ticket"]
    await app.app.db.write(*REVOKE[how]("trainee-1"))
    async with client.websocket(f"/chat/{session_id}?ticket={ticket}") as ws:
        frame = json.loads(await asyncio.wait_for(ws.receive(), 2))
        assert frame["type"] == "error" and frame["code"] == "unauthorized"
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(ws.receive(), 2)
        assert closed.value.args[0] == 4401


async def test_no_ticket_is_issued_for_a_token_revoked_after_it_was_checked(app, users):
    """The window between checking a token and writing its ticket: the ticket is refused."""
    checked = await app.app.db.read(select_user, "trainee-1")
    await app.app.db.write(update_user_token, "trainee-1")
    issued = await app.app.db.write(
        insert_ws_ticket,
        user_id="trainee-1",
        credentials_revision=checked["credentials_revision"],
        now=time.time(),
        ttl_seconds=60,
    )
    assert issued is None


async def test_a_socket_checked_before_a_revocation_but_watched_after_its_sweep_is_closed(app, users):
    """A socket whose credentials were checked just before the revocation, and that the
    watch learns of only after the sweep that read the revocation, is closed at once."""
    checked = await app.app.db.read(select_user, "trainee-1")
    watch = CredentialWatch(app.app.db)
    await watch.start()
    try:
        bystander_closed = []

        def bystander(_ending):  # noqa: ANN001, ANN202 (another user's socket: must stay open)
            bystander_closed.append(True)
            return asyncio.sleep(0)

        watch.watch(await app.app.db.read(select_user, "trainee-2"), bystander)
        await app.app.db.write(update_user_token, "trainee-1")
        await watch.sweep()
        closed = []

        def revoke(_ending):  # noqa: ANN001, ANN202
            closed.append(True)
            return asyncio.sleep(0)

        watch.watch(checked, revoke)
        assert closed == [True]
        assert bystander_closed == []
    finally:
        await watch.stop()


# Sockets signed in by the web app's session cookie -------------------------------------


async def _browser_session(app, user_id: str, ttl_seconds: float = 3600) -> tuple[str, str]:  # noqa: ANN001
    """A browser session for the user, as signing in by link makes one: (secret, csrf token)."""
    code = await app.app.db.write(insert_sign_in_code, user_id, now=time.time(), ttl_seconds=60)
    _user, secret = await app.app.db.write(
        exchange_sign_in_code, code, now=time.time(), session_ttl_seconds=ttl_seconds
    )
    return secret, csrf_token_for(secret)


def _cookie_socket(app, session_id: int, secret: str):  # noqa: ANN001, ANN202
    """The chat socket as the web app opens it: the cookie, from the server's own origin."""
    headers = {"Cookie": f"{SESSION_COOKIE}={secret}", "Origin": "http://localhost"}
    return app.test_client().websocket(f"/chat/{session_id}", headers=headers)


async def _assert_closed_with(ws, code: str, seconds: float, started: float) -> None:  # noqa: ANN001
    frame = json.loads(await asyncio.wait_for(ws.receive(), seconds))
    assert frame["type"] == "error" and frame["code"] == code, frame
    with pytest.raises(WebsocketDisconnectError) as closed:
        await asyncio.wait_for(ws.receive(), seconds)
    assert closed.value.args[0] == 4401
    assert time.monotonic() - started < seconds


async def test_signing_out_closes_that_browsers_cookie_sockets_and_no_others(app, client, users):
    session_id = await _session(client, users.trainee)
    secret, csrf = await _browser_session(app, "trainee-1")
    other_browser, _ = await _browser_session(app, "trainee-1")
    async with _cookie_socket(app, session_id, secret) as ws, _cookie_socket(app, session_id, other_browser) as kept:
        async with open_socket(client, f"/chat/{session_id}", users.trainee) as token_ws:
            await _connected(ws)
            await _connected(kept)
            await _connected(token_ws)
            started = time.monotonic()
            signed_out = await app.test_client().post(
                "/api/sign-out", headers={"Cookie": f"{SESSION_COOKIE}={secret}", "X-CSRF-Token": csrf}
            )
            assert signed_out.status_code == 200
            await _assert_closed_with(ws, "signed_out", 1.0, started)
            await asyncio.sleep(1.2)  # more than two sweeps
            await _ping(kept)  # the same user's other browser is still signed in
            await _ping(token_ws)  # and so is their token


async def test_a_sign_out_through_another_web_process_closes_the_socket_within_a_second(app, client, users):
    """Another process signs the browser out by deleting its session in the shared
    database; this process's sweep finds it gone."""
    session_id = await _session(client, users.trainee)
    secret, _csrf = await _browser_session(app, "trainee-1")
    async with _cookie_socket(app, session_id, secret) as ws:
        await _connected(ws)
        await app.app.db.write(delete_browser_session, secret)
        await _assert_closed_with(ws, "signed_out", 1.0, time.monotonic())


async def test_a_cookie_socket_closes_when_its_browser_session_expires(app, client, users):
    session_id = await _session(client, users.trainee)
    secret, _csrf = await _browser_session(app, "trainee-1", ttl_seconds=1.5)
    async with _cookie_socket(app, session_id, secret) as ws:
        started = time.monotonic()
        await _connected(ws)
        frame = json.loads(await asyncio.wait_for(ws.receive(), 3))
        assert frame["type"] == "error" and frame["code"] == "sign_in_expired", frame
        assert time.monotonic() - started > 1.0  # not before its time
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(ws.receive(), 1)
        assert closed.value.args[0] == 4401
