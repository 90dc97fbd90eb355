"""The scaled layout heals by itself: two web processes and two workers reach
PostgreSQL and Redis through forwarders the test controls (tests/support/forwarder.py),
and one of the two servers goes away for 20 seconds, with a socket open on each web
process and a message sent on each meanwhile.

Afterwards a new message on each web process is answered within 30 seconds, every
message that was acknowledged is answered exactly once (stored once, one final frame),
a message the database could not take got a clear `unavailable` error, and no
process's log grew by as much as 1,000 lines. `make soak` runs each ten times."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.support.client import ChatClient, create_session
from tests.support.forwarder import routed_through_forwarders
from tests.support.servers import backends_for
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 20
ANSWERED_WITHIN_SECONDS = 30
MOST_LOG_LINES = 1000
LAYOUT_ENV = {
    "CHATTRAIN_REPLY_CLAIM_SECONDS": "5",
    "CHATTRAIN_SWEEP_INTERVAL_SECONDS": "1",
}
LINES = [
    "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
    "Thank you. To verify the account, can you confirm the email address on it?",
    "I'll send a password reset link now; please check your spam folder too.",
]


@contextmanager
def layout_through_forwarders(root: Path):
    """Two stacks (web + worker each) on one PostgreSQL database and one Redis prefix,
    both reached through forwarders; yields the stacks and the forwarders by server."""
    with ExitStack() as cleanup:
        backends = cleanup.enter_context(backends_for("postgresql+redis"))
        routed, forwarders = cleanup.enter_context(routed_through_forwarders(backends))
        stacks = [Stack(data_dir=root / name, backends=routed, extra_env=dict(LAYOUT_ENV)) for name in ("a", "b")]
        for stack in stacks:
            cleanup.callback(stack.stop_all)
            stack.start_all(timeout=60)
        yield stacks, forwarders


def _log_lines(stacks: list[Stack]) -> dict[str, int]:
    return {
        f"{stack.data_dir.name}/{name}": stack.log_text(name).count("\n") for stack in stacks for name in stack.logs
    }


async def _ack_or_error(chat: ChatClient, timeout: float = 15.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await chat.recv(max(deadline - loop.time(), 0.001))
        if frame["type"] in ("message_ack", "error"):
            return frame


async def _answered(chat: ChatClient, message_id: int, timeout: float) -> None:
    """Wait for the final reply to `message_id`, unless it came already."""
    if not [f for f in chat.received if f["type"] == "assistant_message" and f["metadata"]["reply_to"] == message_id]:
        await chat.reply_to(message_id, timeout=timeout)


async def take_a_server_away(root: Path, server: str) -> None:
    with layout_through_forwarders(root) as (stacks, forwarders):
        token = stacks[0].token
        chats: list[ChatClient] = []
        acked: list[tuple[ChatClient, int]] = []
        try:
            for stack in stacks:
                session = await create_session(stack.base_url, token=token)
                chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=token)
                chats.append(chat)
                ack, _ = await chat.say(LINES[0], timeout=30)
                acked.append((chat, ack["message_id"]))
            lines_before = _log_lines(stacks)

            forwarders[server].take_away()
            away_at = time.monotonic()
            for index, chat in enumerate(chats):
                await chat.send("user_message", LINES[1], client_message_id=f"away-{index}")
                frame = await _ack_or_error(chat)
                if frame["type"] == "message_ack":
                    acked.append((chat, frame["message_id"]))
                else:
                    # The database is away: the message was not stored, and the trainee is told.
                    assert server == "postgresql", frame
                    assert frame["code"] == "unavailable" and frame["retry_after_seconds"] > 0, frame
            if server == "postgresql":
                # HTTP says so too, with a reason, rather than 500.
                response = httpx.get(
                    f"{stacks[0].base_url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=15
                )
                assert response.status_code == 503 and response.json()["code"] == "unavailable", response.text
                # So does a socket's handshake.
                with pytest.raises(InvalidStatus) as refused:
                    await ChatClient.connect(f"{stacks[1].ws_base}/chat/1?after=0", token=token)
                assert refused.value.response.status_code == 503
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - away_at)))
            forwarders[server].bring_back()
            back_at = time.monotonic()

            # New messages on both web processes are answered within 30 s of the return.
            async def talk(index: int, chat: ChatClient) -> None:
                remaining = ANSWERED_WITHIN_SECONDS - (time.monotonic() - back_at)
                ack, _ = await chat.say(LINES[2], timeout=remaining, client_message_id=f"after-{index}")
                acked.append((chat, ack["message_id"]))

            await asyncio.gather(*(talk(index, chat) for index, chat in enumerate(chats)))
            # What was acknowledged while the server was away is answered too.
            for chat, message_id in acked:
                await _answered(chat, message_id, timeout=60)
            await asyncio.sleep(1.0)  # a duplicate would come now
        finally:
            for chat in chats:
                await chat.close()

        for chat, message_id in acked:
            finals = [
                f for f in chat.received if f["type"] == "assistant_message" and f["metadata"]["reply_to"] == message_id
            ]
            assert len(finals) == 1, f"reply to {message_id} arrived {len(finals)} times"
            assert stacks[0].rows("SELECT count(*) FROM messages WHERE reply_to = :id", id=message_id) == [(1,)]
        grown = {name: count - lines_before.get(name, 0) for name, count in _log_lines(stacks).items()}
        assert max(grown.values()) < MOST_LOG_LINES, grown


@pytest.mark.parametrize("server", ["postgresql", "redis"])
async def test_every_process_heals_after_a_server_is_away_for_20_seconds(tmp_path: Path, server: str):
    await take_a_server_away(tmp_path, server)


SOAK_ROUNDS = 10


@pytest.mark.soak
@pytest.mark.parametrize("round_number", range(SOAK_ROUNDS))
@pytest.mark.parametrize("server", ["postgresql", "redis"])
async def test_soak_every_process_heals_every_time(tmp_path: Path, server: str, round_number: int):
    await take_a_server_away(tmp_path, server)
