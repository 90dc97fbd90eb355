"""Authentication on the real server: Hypercorn negotiates the chat socket's subprotocol
as a browser needs it, tickets work over a real handshake, a refused socket says why,
a token made by the `chattrain users` command works at once, and revoking one with the
command closes the sockets opened with it on every web process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support.client import ChatClient, bearer_headers, create_session
from tests.support.stack import REPO_ROOT, Stack

pytestmark = pytest.mark.e2e


async def _ping(chat: ChatClient) -> None:
    await chat.send("ping")
    assert (await chat.recv_until("pong"))["type"] == "pong"


async def test_the_socket_accepts_the_token_subprotocol_and_answers_with_chattrain_v1(stack):
    session = await create_session(stack.base_url, token=stack.token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=stack.token)
    try:
        assert chat.ws.subprotocol == "chattrain.v1"  # never the bearer.<token> offer
        await _ping(chat)
    finally:
        await chat.close()


async def test_a_ticket_opens_the_socket_over_a_real_handshake(stack):
    session = await create_session(stack.base_url, token=stack.token)
    async with httpx.AsyncClient(base_url=stack.base_url, headers=bearer_headers(stack.token)) as http:
        ticket = (await http.post("/api/ws-ticket")).json()["ticket"]
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?ticket={ticket}")
    try:
        await _ping(chat)
    finally:
        await chat.close()


async def test_a_socket_without_credentials_gets_a_reason_and_close_code_4401(stack):
    session = await create_session(stack.base_url, token=stack.token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", subprotocols=["chattrain.v1"])
    try:
        error = await chat.recv()
        assert error["type"] == "error" and error["code"] == "unauthorized"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await chat.recv()
        assert closed.value.rcvd.code == 4401
        assert closed.value.rcvd.reason == "authentication required"
    finally:
        await chat.close()


def test_a_token_made_by_the_cli_works_at_once(stack):
    env = stack.cli_env()
    chattrain = Path(sys.executable).parent / "chattrain"
    made = subprocess.run(
        [str(chattrain), "users", "create", "--role", "trainer", "--id", "cli-trainer", "--token-only"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip()
    me = httpx.get(f"{stack.base_url}/api/me", headers=bearer_headers(token))
    assert me.json() == {"id": "cli-trainer", "role": "trainer", "display_name": None, "csrf_token": None}
    subprocess.run(
        [str(chattrain), "users", "disable", "cli-trainer"], cwd=REPO_ROOT, env=env, capture_output=True, check=True
    )
    assert httpx.get(f"{stack.base_url}/api/me", headers=bearer_headers(token)).status_code == 401


def _chattrain(stack, *args: str) -> str:  # noqa: ANN001
    env = stack.cli_env()
    chattrain = Path(sys.executable).parent / "chattrain"
    done = subprocess.run([str(chattrain), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _start_second_web_process(stack) -> Stack:  # noqa: ANN001
    """Another web process on its own port, sharing the stack's data folder and database."""
    second = Stack(data_dir=stack.data_dir, backends=stack.backends)
    second.start("web")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{second.base_url}/api/health", timeout=2).status_code == 200:
                return second
        except httpx.HTTPError:
            time.sleep(0.1)
    second.stop_all()
    raise TimeoutError(second.all_logs()[-3000:])


async def _assert_revoked(chat: ChatClient, started: float) -> None:
    frame = await chat.recv(timeout=2)
    assert frame["type"] == "error" and frame["code"] == "token_revoked", frame
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await chat.recv(timeout=2)
    assert closed.value.rcvd.code == 1008
    assert time.monotonic() - started < 1.0


async def test_revoking_with_the_cli_closes_the_users_sockets_on_every_web_process_within_a_second(stack):
    second = _start_second_web_process(stack)
    chats: list[ChatClient] = []
    try:
        bystander_session = await create_session(stack.base_url, token=stack.token)
        bystander = await ChatClient.connect(f"{second.ws_base}/chat/{bystander_session['id']}", token=stack.token)
        chats.append(bystander)
        for user_id, command in (("rotated-trainee", "rotate-token"), ("disabled-trainee", "disable")):
            token = stack.create_user("trainee", user_id)
            session = await create_session(stack.base_url, token=token)
            on_both = [
                await ChatClient.connect(f"{web.ws_base}/chat/{session['id']}", token=token) for web in (stack, second)
            ]
            chats += on_both
            for chat in on_both:
                await _ping(chat)
            _chattrain(stack, "users", command, user_id)
            started = time.monotonic()
            await asyncio.gather(*(_assert_revoked(chat, started) for chat in on_both))
        await _ping(bystander)  # another user's socket stays open
    finally:
        for chat in chats:
            await chat.close()
        second.stop_all()


async def test_signing_out_on_one_web_process_closes_that_browsers_socket_on_another_within_a_second(stack):
    """The web app's cookie socket on web process B closes when the browser signs out
    through web process A: the database is the only channel between them."""
    second = _start_second_web_process(stack)
    token = stack.create_user("trainee", "cookie-trainee")
    try:
        code = (
            _chattrain(stack, "users", "sign-in-link", "cookie-trainee").strip().splitlines()[-1].split("#sign-in=")[1]
        )
        async with httpx.AsyncClient(base_url=stack.base_url) as browser:
            me = (await browser.post("/api/sign-in", json={"code": code})).json()
            secret = browser.cookies["chattrain_session"]
            session = await create_session(stack.base_url, token=token)
            chat = await ChatClient.connect(
                f"{second.ws_base}/chat/{session['id']}",
                subprotocols=["chattrain.v1"],
                additional_headers={"Cookie": f"chattrain_session={secret}"},
                origin=second.base_url,
            )
            try:
                assert (await chat.recv())["type"] == "session_start"
                await _ping(chat)
                signed_out = await browser.post("/api/sign-out", headers={"X-CSRF-Token": me["csrf_token"]})
                assert signed_out.status_code == 200
                started = time.monotonic()
                frame = await chat.recv(timeout=2)
                assert frame["type"] == "error" and frame["code"] == "signed_out", frame
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await chat.recv(timeout=2)
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "signed out")
                assert time.monotonic() - started < 1.0
            finally:
                await chat.close()
    finally:
        second.stop_all()
