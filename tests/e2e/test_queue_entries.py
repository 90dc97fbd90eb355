"""A queue entry cannot run code in a worker: the queue carries plain data
(worker/queue_entries.py), and an entry that is not a ChatTrain job, such as a pickle
pushed onto Redis's list or written into the queue file by someone who reached them, is
refused with one log line. The worker goes on answering."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest
from huey.storage import RedisStorage, SqliteStorage

from tests.support.client import ChatClient, create_session
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


class _RunsCode:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def _push(stack: Stack, data: bytes) -> None:
    """Put raw bytes on the stack's queue, as someone with access to Redis or the queue
    file could."""
    if stack.backends.queue_url:
        name = f"{stack.backends.redis_key_prefix}_chattrain"
        storage = RedisStorage(name=name, url=stack.backends.queue_url)
        storage.enqueue(data)
        storage.conn.close()
    else:
        SqliteStorage(name="chattrain", filename=str(stack.data_dir / "queue.db")).enqueue(data)


async def test_a_pickle_on_the_queue_is_refused_not_run(stack: Stack, tmp_path: Path):
    marker = tmp_path / "code-ran"
    _push(stack, pickle.dumps(_RunsCode(marker)))
    _push(stack, b'{"id": "x", "name": "worker.tasks.generate_reply", "args": [{"__class__": "os.system"}]}')
    deadline = time.monotonic() + 15
    while stack.log_text("worker").count("queue entry refused") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.log_text("worker").count("queue entry refused") == 2, stack.log_text("worker")[-3000:]
    assert not marker.exists(), "a pickle from the queue ran code in the worker"
    # The worker is unharmed and answers as before.
    session = await create_session(stack.base_url, token=stack.token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
    try:
        ack, reply = await chat.say("Hello, I'm sorry to hear you can't log in. Let me help.", timeout=30)
    finally:
        await chat.close()
    assert reply["metadata"]["reply_to"] == ack["message_id"]
