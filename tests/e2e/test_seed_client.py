"""A client written against the original ChatTrain backend's README, against the real
processes: it creates a session with the original body, connects, reads the first frame
without sending anything (the original server sent session_start on connect), then
chats with `user_message` frames only and waits for each `assistant_message`.

The original had no sign-in, so the stack runs in insecure-dev mode (loopback only),
where a request without a token is trusted; nothing else is adapted for ChatTrain."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.support.stack import started_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(name="insecure_stack")
def _insecure_stack(tmp_path):
    with started_stack(tmp_path / "data", CHATTRAIN_AUTH_MODE="insecure-dev") as stack:
        yield stack


async def _recv(ws) -> dict:  # noqa: ANN001
    return json.loads(await asyncio.wait_for(ws.recv(), 15))


async def test_a_client_of_the_original_protocol_gets_session_start_on_connect_and_its_replies(insecure_stack):
    stack = insecure_stack
    response = httpx.post(f"{stack.base_url}/api/sessions", json={"scenario_id": 1, "user_id": "test_websocket_user"})
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    async with websockets.connect(f"{stack.ws_base}/chat/{session_id}") as ws:
        first = await _recv(ws)  # sent by the server unasked
        assert first["type"] == "session_start" and first["session_id"] == session_id
        assert first["content"] and first["timestamp"]
        for text in ("Hello, I need help with a customer service issue.", "I'm having trouble with my order delivery."):
            await ws.send(json.dumps({"type": "user_message", "content": text, "metadata": {}}))
            frames = [await _recv(ws)]
            while frames[-1]["type"] != "assistant_message":
                assert frames[-1]["type"] != "error", frames[-1]
                frames.append(await _recv(ws))
            ack = next(frame for frame in frames if frame["type"] == "message_ack")
            reply = frames[-1]
            assert reply["metadata"]["reply_to"] == ack["message_id"]
            assert reply["content"] and reply["metadata"]["tokens"] > 0 and reply["message_id"] > ack["message_id"]
