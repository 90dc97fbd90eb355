"""Authentication on the real server: Hypercorn negotiates the chat socket's subprotocol
as a browser needs it, tickets work over a real handshake, a refused socket says why,
and a token made by the `chattrain users` command works at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support.client import ChatClient, bearer_headers, create_session
from tests.support.stack import REPO_ROOT

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
    env = {**os.environ, "CHATTRAIN_DATA_DIR": str(stack.data_dir)}
    chattrain = Path(sys.executable).parent / "chattrain"
    made = subprocess.run(
        [str(chattrain), "users", "create", "--role", "trainer", "--id", "cli-trainer", "--token-only"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True,
    )
    token = made.stdout.strip()
    me = httpx.get(f"{stack.base_url}/api/me", headers=bearer_headers(token))
    assert me.json() == {"id": "cli-trainer", "role": "trainer", "display_name": None}
    subprocess.run([str(chattrain), "users", "disable", "cli-trainer"], cwd=REPO_ROOT, env=env, capture_output=True, check=True)
    assert httpx.get(f"{stack.base_url}/api/me", headers=bearer_headers(token)).status_code == 401
