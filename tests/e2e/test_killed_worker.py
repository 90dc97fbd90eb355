"""A worker killed with SIGKILL right after it took a reply off the queue costs at most
a claim's time (CHATTRAIN_REPLY_CLAIM_SECONDS) once a worker is up again, on both
layouts, whether or not the dead worker had written its claim: a claim runs out, and a
job queued that long whose entry is no longer in the queue was taken by a worker that
died (worker/maintenance.py). The reply is stored once and reaches the socket once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from huey.storage import RedisStorage, SqliteStorage

from tests.support.client import ChatClient, create_session
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

CLAIM_SECONDS = 4
SWEEP_SECONDS = 1
# The worker that dies waits 30 s for the model's first chunk, so it holds the job when
# killed; the worker started after it answers at once.
DYING_WORKER_ENV = {"CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "30000"}
LINE = "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in."


def _queue_length(stack: Stack) -> int:
    if stack.backends.queue_url:
        storage = RedisStorage(name=f"{stack.backends.redis_key_prefix}_chattrain", url=stack.backends.queue_url)
        try:
            return storage.queue_size()
        finally:
            storage.conn.close()
    return SqliteStorage(name="chattrain", filename=str(stack.data_dir / "queue.db")).queue_size()


def _claim_state(stack: Stack, message_id: int) -> str:
    [(status,)] = stack.rows("SELECT status FROM reply_jobs WHERE message_id = :id", id=message_id)
    return status


@pytest.mark.parametrize("claim_written", [False, True], ids=["before-its-claim", "after-its-claim"])
async def test_a_reply_taken_by_a_worker_killed_outright_comes_within_a_claim_time(
    tmp_path: Path, backends, claim_written: bool
):
    env = {
        "CHATTRAIN_REPLY_CLAIM_SECONDS": str(CLAIM_SECONDS),
        "CHATTRAIN_SWEEP_INTERVAL_SECONDS": str(SWEEP_SECONDS),
        **DYING_WORKER_ENV,
    }
    if not claim_written:
        # The claim comes with the `typing` event, written one to two batch intervals
        # after the run starts: a long interval keeps the job unclaimed when it dies.
        env["CHATTRAIN_STREAM_BATCH_MS"] = "20000"
    stack = Stack(data_dir=tmp_path / "data", backends=backends, extra_env=env)
    stack.start_all()
    try:
        session = await create_session(stack.base_url, token=stack.token)
        chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
        try:
            await chat.send("user_message", LINE)
            ack = await chat.recv_until("message_ack")
            message_id = ack["message_id"]
            wanted = "working" if claim_written else "queued"
            deadline = time.monotonic() + 10
            # Taken off the queue: the run has started (its claim written, or not yet).
            while time.monotonic() < deadline:
                if _queue_length(stack) == 0 and _claim_state(stack, message_id) == wanted:
                    break
                time.sleep(0.05)
            assert _claim_state(stack, message_id) == wanted
            stack.stop("worker", signal.SIGKILL)

            for name in DYING_WORKER_ENV:
                stack.extra_env.pop(name)
            stack.extra_env.pop("CHATTRAIN_STREAM_BATCH_MS", None)
            stack.start("worker")
            stack.wait_healthy(60)
            up_at = time.monotonic()
            reply = await chat.reply_to(message_id, timeout=60)
            waited = time.monotonic() - up_at
            await chat.send("ping")
            await chat.recv_until("pong")
        finally:
            await chat.close()
        # Within a claim's time of a worker being up, plus the sweeps that notice it and
        # a margin for a busy machine (a lost claim used to cost 30 s).
        assert waited < CLAIM_SECONDS + 2 * SWEEP_SECONDS + 8, waited
        finals = [
            f for f in chat.received if f["type"] == "assistant_message" and f["metadata"]["reply_to"] == message_id
        ]
        assert len(finals) == 1
        assert stack.rows("SELECT content FROM messages WHERE reply_to = :id", id=message_id) == [(reply["content"],)]
    finally:
        stack.stop_all()
