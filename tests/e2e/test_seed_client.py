"""Clients written against the original ChatTrain backend's README, against the real
processes. The original had no sign-in, so the stack runs in insecure-dev mode (loopback
only), where a request without a token is trusted; nothing else is adapted for ChatTrain.

Such a client offers no WebSocket subprotocol, and gets the original protocol: the
`session_start` the server sends on connect, and per `user_message` an acknowledgement
and its `assistant_message`, each with `type` and `content`. Typing, deltas and
feedback, which it would read as the reply, go only to clients that offer `chattrain.v1`.
The reference client of the original repository reads exactly two frames per message
it sends and prints each one's `type` and `content`; the first test is that client."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.support.stack import started_stack

pytestmark = pytest.mark.e2e

LINES = ("Hello, I need help with a customer service issue.", "I'm having trouble with my order delivery.")


@pytest.fixture(name="insecure_stack", scope="module")  # each test opens a session of its own
def _insecure_stack(tmp_path_factory):
    # A model that streams for about a second: typing and deltas exist to be held back.
    with started_stack(
        tmp_path_factory.mktemp("seed") / "data",
        CHATTRAIN_AUTH_MODE="insecure-dev",
        CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS="300",
        CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND="20",
    ) as stack:
        yield stack


async def _recv(ws) -> dict:  # noqa: ANN001
    return json.loads(await asyncio.wait_for(ws.recv(), 15))


def _new_session(stack) -> int:  # noqa: ANN001
    response = httpx.post(f"{stack.base_url}/api/sessions", json={"scenario_id": 1, "user_id": "test_websocket_user"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_the_original_reference_client_reads_an_acknowledgement_and_the_reply_per_message(insecure_stack):
    printed = []
    async with websockets.connect(f"{insecure_stack.ws_base}/chat/{_new_session(insecure_stack)}") as ws:
        initial = await _recv(ws)
        printed.append((initial["type"], initial["content"]))
        for text in LINES:
            await ws.send(json.dumps({"type": "user_message", "content": text, "metadata": {}}))
            for _ in range(2):  # as the reference client: its message's receipt, then the reply
                frame = await _recv(ws)
                printed.append((frame["type"], frame["content"]))
    assert [kind for kind, _ in printed] == ["session_start"] + ["message_ack", "assistant_message"] * len(LINES)
    assert all(content for _, content in printed)


async def test_a_client_of_the_original_protocol_gets_session_start_on_connect_and_its_replies(insecure_stack):
    session_id = _new_session(insecure_stack)
    async with websockets.connect(f"{insecure_stack.ws_base}/chat/{session_id}") as ws:
        first = await _recv(ws)  # sent by the server unasked
        assert first["type"] == "session_start" and first["session_id"] == session_id
        assert first["content"] and first["timestamp"]
        for text in LINES:
            await ws.send(json.dumps({"type": "user_message", "content": text, "metadata": {}}))
            ack, reply = await _recv(ws), await _recv(ws)
            assert ack["type"] == "message_ack" and reply["type"] == "assistant_message", (ack, reply)
            assert reply["metadata"]["reply_to"] == ack["message_id"]
            assert reply["content"] and reply["metadata"]["tokens"] > 0 and reply["message_id"] > ack["message_id"]


async def test_a_client_that_offers_chattrain_v1_gets_typing_and_deltas_too(insecure_stack):
    session_id = _new_session(insecure_stack)
    async with websockets.connect(f"{insecure_stack.ws_base}/chat/{session_id}", subprotocols=["chattrain.v1"]) as ws:
        await _recv(ws)
        await ws.send(json.dumps({"type": "user_message", "content": LINES[0], "metadata": {}}))
        kinds = []
        while not kinds or kinds[-1] != "assistant_message":
            kinds.append((await _recv(ws))["type"])
    assert kinds[0] == "message_ack" and "assistant_delta" in kinds, kinds
