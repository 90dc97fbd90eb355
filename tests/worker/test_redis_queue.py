"""The queue on Redis (CHATTRAIN_QUEUE_URL), against a real server: FIFO, a waiting
worker woken by the push itself (BRPOP, no doorbell and no poll), idle workers taking
turns at one connection, and a wrong URL refused at start-up in one line without its
password."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from redis import Redis

from shared.lib.backend_urls import BackendUnavailable, redact_url
from shared.settings import Settings
from tests.support.servers import delete_prefixed_keys, redis_url, unique_prefix
from tests.support.stack import REPO_ROOT
from worker.queue_storage import create_queue_storage
from worker.redis_queue import RedisQueueStorage


@pytest.fixture(name="redis_settings")
def _redis_settings(tmp_path: Path):
    url, prefix = redis_url(), unique_prefix()
    yield Settings(data_dir=tmp_path / "data", queue_url=url, redis_key_prefix=prefix, worker_poll_interval_ms=5000)
    delete_prefixed_keys(url, prefix)


def test_a_redis_url_puts_the_queue_on_redis_in_first_in_first_out_order(redis_settings: Settings):
    storage = create_queue_storage(redis_settings)
    assert isinstance(storage, RedisQueueStorage)
    storage.enqueue(b"first")
    storage.enqueue_many([b"second", b"third"])
    assert storage.queue_size() == 3
    assert [storage.dequeue() for _ in range(3)] == [b"first", b"second", b"third"]
    assert storage.queue_size() == 0


def test_a_waiting_worker_is_woken_by_the_push_itself(redis_settings: Settings):
    """The BRPOP waits up to 5 s (the poll interval); a job pushed meanwhile is taken at
    once, with no doorbell and no poll."""
    storage = create_queue_storage(redis_settings)
    taken: list[tuple[bytes, float]] = []
    waiter = threading.Thread(target=lambda: taken.append((storage.dequeue(), time.monotonic())))
    waiter.start()
    time.sleep(0.3)  # the worker is inside BRPOP by now
    pushed_at = time.monotonic()
    create_queue_storage(redis_settings).enqueue(b"job")
    waiter.join(6)
    assert taken and taken[0][0] == b"job"
    assert taken[0][1] - pushed_at < 0.2


def test_idle_workers_take_turns_so_one_connection_waits_on_redis(redis_settings: Settings):
    storage = create_queue_storage(redis_settings)
    client = Redis.from_url(redis_settings.queue_url)
    before = len(client.client_list())
    stop = threading.Event()
    taken: list[bytes] = []

    def loop() -> None:
        while not stop.is_set():
            data = storage.dequeue()
            if data is not None:
                taken.append(data)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(50)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    waiting = len(client.client_list()) - before
    storage.enqueue_many([f"job-{n}".encode() for n in range(20)])
    deadline = time.monotonic() + 5
    while len(taken) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    storage.stop_dequeuing()
    stop.set()
    assert sorted(taken) == sorted(f"job-{n}".encode() for n in range(20))
    assert waiting <= 2, f"{waiting} connections for 50 idle workers"
    client.close()


def test_an_unreachable_redis_fails_with_one_line_that_hides_the_password(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, queue_url="redis://:hunter2secret@127.0.0.1:1/0")
    with pytest.raises(BackendUnavailable) as raised:
        create_queue_storage(settings)
    message = str(raised.value)
    assert "CHATTRAIN_QUEUE_URL" in message and "127.0.0.1:1" in message
    assert "hunter2secret" not in message and "\n" not in message
    assert redact_url("redis://user:pw@host:6380/2") == "redis://user:***@host:6380/2"
    assert redact_url("postgresql+psycopg://u:pw@db/chat") == "postgresql+psycopg://u:***@db/chat"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"


@pytest.mark.parametrize("process", ["web", "worker"])
def test_a_process_given_a_bad_queue_url_exits_with_one_clear_line(tmp_path: Path, process: str):
    command = {
        "web": [sys.executable, "-c", "import web.asgi"],
        "worker": [sys.executable, "-c", "import worker.main"],
    }[process]
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
    env.update(
        CHATTRAIN_DATA_DIR=str(tmp_path),
        CHATTRAIN_SECRET_KEY="test-only-secret-key",
        CHATTRAIN_QUEUE_URL="redis://:hunter2secret@127.0.0.1:1/0",
    )
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"chattrain {process}: CHATTRAIN_QUEUE_URL: cannot use the Redis queue at redis://:***@127.0.0.1:1/0"
    )
    assert "hunter2secret" not in result.stderr + result.stdout


def test_the_worker_counts_a_redis_it_cannot_reach_towards_the_queues_outage(runtime, monkeypatch) -> None:
    """worker/runtime.py imports redis-py only when asked about an error (it is the redis
    extra): a refused connection still counts towards the queue's outage, a few log lines
    per outage, and an error of another kind does not."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from worker import huey_app

    storage = RedisQueueStorage("outage-test", url="redis://127.0.0.1:1/0", read_timeout_seconds=1)
    monkeypatch.setattr(huey_app.huey, "storage", storage)
    runtime.note_failure(ValueError("not a server's error"), "a step")
    assert not storage.outage.down
    with pytest.raises(RedisConnectionError) as refused:
        storage.conn.ping()  # nothing listens on port 1
    runtime.note_failure(refused.value, "a step")
    assert storage.outage.down
