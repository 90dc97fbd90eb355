"""End to end: the real Hypercorn and huey_consumer processes started from the Procfile,
a real SQLite file in a temporary folder, a real WebSocket client."""

from __future__ import annotations

import httpx
import pytest

from tests.support.client import ChatClient, create_session
from tests.support.servers import CONFIGURATIONS, backends_for
from tests.support.stack import started_stack

pytestmark = pytest.mark.e2e


# One stack per configuration for the file rather than one per test (tests/conftest.py's
# `stack`): each test opens sessions of its own, and none stops or reconfigures a process.
@pytest.fixture(name="backends", scope="module", params=CONFIGURATIONS)
def _backends(request):
    with backends_for(request.param) as backends:
        yield backends


@pytest.fixture(name="stack", scope="module")
def _stack(tmp_path_factory, backends):
    data_dir = tmp_path_factory.mktemp("conversation") / "data"
    with started_stack(data_dir, backends=backends, CHATTRAIN_LOG_LEVEL="DEBUG") as stack:
        yield stack


TRAINEE_LINES = {
    "customer-service": [
        "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
        "Thank you. To verify the account, can you confirm the email address on it? I'll send a password reset link now.",
        "Please check your spam folder too; the reset link expires in an hour. I can also see the duplicate renewal charge.",
        "You will get a refund for the duplicate charge within 5 business days, and I'll email you a reference number.",
        "Is there anything else I can help with today? Thank you for your patience.",
    ],
    "technical-support": [
        "I'm sorry the integration is down, I understand the urgency. Let me look into it right away.",
        "Could you share the error message and the time it started? I'll check our status page and logs.",
        "Thanks. It looks like the API key was rotated; please generate a new key and update the webhook settings.",
        "I've opened a ticket and escalated it to engineering; I'll update you within the hour.",
        "Is there anything else I can help with? Thank you for your patience.",
    ],
}


@pytest.mark.parametrize("scenario", ["customer-service", "technical-support"])
async def test_five_turn_conversation_gets_every_reply_through_the_worker(stack, scenario):
    session = await create_session(stack.base_url, scenario, token=stack.token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=stack.token)
    try:
        await chat.send("session_start")
        start = await chat.recv_until("session_start")
        assert start["session_id"] == session["id"]
        opening = await chat.recv_until("assistant_message")
        assert opening["metadata"]["reply_to"] is None
        replies = []
        for line in TRAINEE_LINES[scenario]:
            ack, reply = await chat.say(line)
            assert reply["metadata"]["reply_to"] == ack["message_id"]
            assert reply["metadata"]["tokens"] > 0
            assert reply["content"].strip()
            replies.append(reply)
        assert len({r["message_id"] for r in replies}) == 5
        # A `typing` frame is only written for a slow reply (worker/streaming.py); whenever
        # one came, it came before the reply it announced.
        for typing in (frame for frame in chat.received if frame["type"] == "typing"):
            reply = next(r for r in replies if r["metadata"]["reply_to"] == typing["reply_to"])
            assert typing["event_id"] < reply["event_id"]
    finally:
        await chat.close()

    transcript = httpx.get(
        f"{stack.base_url}/api/sessions/{session['id']}", headers={"Authorization": f"Bearer {stack.token}"}
    ).json()
    roles = [m["role"] for m in transcript["messages"]]
    assert roles == ["assistant"] + ["user", "assistant"] * 5
    for question, answer in zip(transcript["messages"][1::2], transcript["messages"][2::2], strict=False):
        assert answer["reply_to"] == question["id"]
        assert answer["metadata"]["provider"] == "mock"
    assert "reply written" in stack.log_text("worker")
    assert "reply written" not in stack.log_text("web")
    # Both processes took their start-up objects out of the collector's full passes.
    for process in ("web", "worker"):
        assert "start-up objects for the garbage collector" in stack.log_text(process)
    # A fresh start and a whole conversation warn of nothing: no Python warning (gevent's
    # late-patching warning once came at every worker start) and no WARNING line.
    for process in ("web", "worker"):
        warnings = [line for line in stack.log_text(process).splitlines() if "Warning" in line or "WARNING" in line]
        assert not warnings, f"{process}: {warnings}"


async def test_health_is_healthy_with_a_live_worker_and_reports_each_backend(stack):
    health = stack.health()
    assert health["status"] == "healthy"
    assert health["worker"]["alive"] is True
    assert (health["worker"]["live_workers"], health["worker"]["live_hosts"]) == (1, 1)
    assert health["database"]["reachable"] is True
    assert health["queue"]["depth"] == 0 and health["queue"]["reachable"] is True
    assert health["database"]["latency_ms"] >= 0 and health["queue"]["latency_ms"] >= 0
    backends = stack.backends
    assert health["database"]["backend"] == ("postgresql" if backends.database_url else "sqlite")
    assert health["queue"]["backend"] == ("redis" if backends.queue_url else "sqlite")
    expected_wakeups = "postgresql" if backends.database_url else "redis" if backends.queue_url else "doorbell"
    assert health["wakeups"] == {"backend": expected_wakeups, "listening": True}


async def test_two_sockets_on_one_session_both_receive_the_reply(stack):
    session = await create_session(stack.base_url, token=stack.token)
    first = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
    second = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
    try:
        ack, reply = await first.say("I'm sorry for the trouble, let me help.")
        mirrored = await second.reply_to(ack["message_id"])
        assert mirrored["event_id"] == reply["event_id"]
        assert mirrored["content"] == reply["content"]
    finally:
        await first.close()
        await second.close()


async def test_websocket_compression_is_declined_to_save_memory_per_socket(stack):
    """Browsers always offer permessage-deflate; it costs ~105 KiB per socket, so the
    server declines it (CHATTRAIN_WS_COMPRESSION=on would accept)."""
    session = await create_session(stack.base_url, token=stack.token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=stack.token, compression="deflate")
    try:
        assert "Sec-WebSocket-Extensions" not in chat.ws.response.headers
        await chat.send("ping")
        assert (await chat.recv_until("pong"))["type"] == "pong"
    finally:
        await chat.close()
