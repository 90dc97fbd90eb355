"""The queue only prompts work; the database is the source of truth. A job whose Redis
entry is gone (popped by a worker that died before writing anything, or lost with a
Redis restarted without persistence) is still a `reply_jobs` row, and the worker's sweep
enqueues it again: the reply arrives, once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from redis import Redis

from tests.support.client import ChatClient, create_session
from tests.support.servers import REDIS_CONFIGURATIONS, backends_for, private_redis
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

LINE = "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in."


@pytest.mark.parametrize("configuration", REDIS_CONFIGURATIONS)
@pytest.mark.parametrize("loss", ["popped by a worker that died", "redis restarted empty"])
async def test_a_job_whose_queue_entry_was_lost_is_recovered_from_the_database(
    tmp_path: Path, configuration: str, loss: str
):
    with private_redis(tmp_path / "redis") as redis_server, backends_for(configuration, redis_server.url) as backends:
        stack = Stack(data_dir=tmp_path / "data", backends=backends)
        stack.start_all()
        try:
            # No worker: the message's job is stored and its entry waits in Redis.
            stack.stop("worker", signal.SIGTERM)
            session = await create_session(stack.base_url, token=stack.token)
            chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
            try:
                await chat.send("user_message", LINE)
                ack = await chat.recv_until("message_ack")
                queue_key = f"huey.redis.{backends.redis_key_prefix}_chattrain"
                client = Redis.from_url(redis_server.url)
                deadline = time.monotonic() + 5
                while client.llen(queue_key) == 0 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert client.llen(queue_key) == 1
                if loss == "popped by a worker that died":
                    assert client.brpop([queue_key], timeout=1) is not None  # taken, never run
                else:
                    client.close()
                    redis_server.restart()
                    client = Redis.from_url(redis_server.url)
                assert client.llen(queue_key) == 0
                client.close()
                # The sweep re-enqueues a job queued a claim's time whose entry is gone (10 s);
                # rather than wait, the job is made to look that old.
                stack.rows(
                    "UPDATE reply_jobs SET enqueued_at = enqueued_at - 60 WHERE message_id = :id", id=ack["message_id"]
                )
                stack.start("worker")
                reply = await chat.reply_to(ack["message_id"], timeout=30)
            finally:
                await chat.close()
            stored = stack.rows("SELECT content FROM messages WHERE reply_to = :id", id=ack["message_id"])
            assert stored == [(reply["content"],)]
            assert "sweep re-enqueued 1 reply job(s)" in stack.log_text("worker")
        finally:
            stack.stop_all()


async def test_a_redis_password_reaches_neither_a_log_line_nor_health(tmp_path: Path):
    password = "s3cret-redis-passw0rd"
    with (
        private_redis(tmp_path / "redis", password=password) as redis_server,
        backends_for(REDIS_CONFIGURATIONS[0], redis_server.url) as backends,
    ):
        stack = Stack(data_dir=tmp_path / "data", backends=backends, extra_env={"CHATTRAIN_LOG_LEVEL": "DEBUG"})
        stack.start_all()
        try:
            session = await create_session(stack.base_url, token=stack.token)
            chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
            try:
                await chat.say(LINE)
            finally:
                await chat.close()
            health = stack.health()
            assert health["queue"]["backend"] == "redis" and health["queue"]["reachable"] is True
            redis_server.stop()  # unreachable now: health says so, without the URL
            down = stack.health()
            assert down["queue"]["reachable"] is False and down["status"] == "degraded"
        finally:
            stack.stop_all()
        for text in (str(health), str(down), stack.all_logs()):
            assert password not in text
