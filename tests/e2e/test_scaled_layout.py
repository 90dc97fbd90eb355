"""The scaled layout: two web processes on their own ports and two workers, each with a
data folder of its own, sharing only PostgreSQL and Redis (a private redis-server, so it
can be restarted). One conversation survives, in turn: a worker killed with SIGKILL in
the middle of a reply, Redis restarted (and emptied) in the middle of a reply, and the
web process the socket is on stopped in the middle of a reply. Every reply is stored
once and reaches the client once, the client resuming with `?after=` on the other web
process. `make soak` repeats it 20 times; the default run does it once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.client import ChatClient, create_session
from tests.support.servers import backends_for, private_redis
from tests.support.stack import REPO_ROOT, Stack, free_port, stop_group

pytestmark = pytest.mark.e2e

LAYOUT_ENV = {
    # A reply streams for about a second: long enough to interrupt.
    "CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "200",
    "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": "20",
    # A worker killed outright is found when its claim runs out (no pid across hosts):
    # short claims and sweeps keep the test short.
    "CHATTRAIN_REPLY_CLAIM_SECONDS": "3",
    "CHATTRAIN_SWEEP_INTERVAL_SECONDS": "1",
}
LINES = [
    "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
    "Thank you. To verify the account, can you confirm the email address on it? I'll send a password reset link now.",
    "Please check your spam folder too; the reset link expires in an hour. I can also see the duplicate renewal charge.",
    "You will get a refund for the duplicate charge within 5 business days, and I'll email you a reference number.",
]


def assemble(deltas: list[dict]) -> str:
    text = ""
    for delta in deltas:
        text = delta["content"] if delta.get("restart") else text + delta["content"]
    return text


class Conversation:
    """One trainee's session, followed across sockets."""

    def __init__(self, token: str, session_id: int):
        self.token, self.session_id = token, session_id
        self.sockets: list[ChatClient] = []
        self.last_event_id = 0

    async def open(self, web: Stack) -> ChatClient:
        chat = await ChatClient.connect(
            f"{web.ws_base}/chat/{self.session_id}?after={self.last_event_id}", token=self.token
        )
        self.sockets.append(chat)
        return chat

    def note_seen(self) -> None:
        self.last_event_id = max(
            [self.last_event_id] + [f["event_id"] for f in self.sockets[-1].received if "event_id" in f]
        )

    @property
    def frames(self) -> list[dict]:
        return [frame for chat in self.sockets for frame in chat.received]


def live_workers_within(stack: Stack, expected: int, *, timeout: float) -> int:
    """The live workers /api/health reports, once it reports `expected` or when `timeout`
    seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        live = stack.health()["worker"]["live_workers"]
        if live == expected or time.monotonic() > deadline:
            return live
        time.sleep(0.2)


def claimant_pid(stack: Stack, message_id: int) -> int:
    [(worker_id,)] = stack.rows("SELECT worker_id FROM reply_jobs WHERE message_id = :id", id=message_id)
    return int(worker_id.split(":")[1])


async def hold_a_conversation_through_failures(root: Path) -> None:
    with ExitStack() as cleanup:
        redis_server = cleanup.enter_context(private_redis(root / "redis"))
        backends = cleanup.enter_context(backends_for("postgresql+redis", redis_server.url))
        a = Stack(data_dir=root / "a", backends=backends, extra_env=dict(LAYOUT_ENV))
        b = Stack(data_dir=root / "b", backends=backends, extra_env=dict(LAYOUT_ENV))
        for stack in (a, b):
            cleanup.callback(stack.stop_all)
            stack.start_all(timeout=60)
        # Each stack is healthy once any worker beats, and a's already does: wait for b's
        # first heartbeat too (it comes a sweep interval after start, later on a busy box).
        assert live_workers_within(a, 2, timeout=60) == 2
        token = a.token
        session = await create_session(a.base_url, token=token)
        talk = Conversation(token, session["id"])
        acks = []
        chat = await talk.open(a)
        try:
            # 1. The worker writing the reply is killed outright; the other one finishes it.
            await chat.send("user_message", LINES[0])
            acks.append(await chat.recv_until("message_ack"))
            await chat.recv_until("assistant_delta", reply_to=acks[-1]["message_id"])
            victim = a if claimant_pid(a, acks[-1]["message_id"]) == a.worker_pid() else b
            victim.stop("worker", signal.SIGKILL)
            await chat.reply_to(acks[-1]["message_id"], timeout=30)
            victim.start("worker")

            # 2. Redis restarts, empty, in the middle of a reply; the next message goes
            # through the new Redis.
            await chat.send("user_message", LINES[1])
            acks.append(await chat.recv_until("message_ack"))
            await chat.recv_until("assistant_delta", reply_to=acks[-1]["message_id"])
            redis_server.restart()
            await chat.reply_to(acks[-1]["message_id"], timeout=30)
            await chat.send("user_message", LINES[2])
            acks.append(await chat.recv_until("message_ack"))
            await chat.reply_to(acks[-1]["message_id"], timeout=45)

            # 3. The web process the socket is on stops mid-reply; the client resumes on
            # the other one with ?after=.
            await chat.send("user_message", LINES[3])
            acks.append(await chat.recv_until("message_ack"))
            await chat.recv_until("assistant_delta", reply_to=acks[-1]["message_id"])
            talk.note_seen()
            a.stop("web", signal.SIGTERM)
            await chat.close()
            chat = await talk.open(b)
            await chat.reply_to(acks[-1]["message_id"], timeout=30)
            a.start("web")
            a.wait_healthy(60)
        finally:
            await chat.close()

        frames = talk.frames
        for chat_socket in talk.sockets:
            ids = [f["event_id"] for f in chat_socket.received if "event_id" in f]
            assert ids == sorted(set(ids)), "an event arrived twice or out of order on one socket"
        for ack in acks:
            message_id = ack["message_id"]
            finals = [f for f in frames if f["type"] == "assistant_message" and f["metadata"]["reply_to"] == message_id]
            assert len(finals) == 1, f"reply to {message_id} arrived {len(finals)} times"
            stored = a.rows("SELECT content FROM messages WHERE reply_to = :id", id=message_id)
            assert stored == [(finals[0]["content"],)]
            deltas = [f for f in frames if f["type"] == "assistant_delta" and f["reply_to"] == message_id]
            if deltas:
                assert assemble(deltas) == finals[0]["content"]
        assert not [f for f in frames if f["type"] == "error"]


async def test_a_conversation_survives_a_killed_worker_a_redis_restart_and_a_web_restart(tmp_path: Path):
    started = time.monotonic()
    await hold_a_conversation_through_failures(tmp_path)
    assert time.monotonic() - started < 240


SOAK_ROUNDS = 20


@pytest.mark.soak
@pytest.mark.parametrize("round_number", range(SOAK_ROUNDS))
async def test_soak_the_scaled_layout_survives_every_time(tmp_path: Path, round_number: int):
    await hold_a_conversation_through_failures(tmp_path)


def _two_free_ports() -> int:
    """A port whose next one is free too (web1 and web2 of `make run-scaled`)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


async def test_make_run_scaled_runs_two_web_processes_and_two_workers_each_with_its_own_folder(tmp_path: Path):
    with backends_for("postgresql+redis") as backends:
        port, folder = _two_free_ports(), tmp_path / "scaled"
        env = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
        env.update(
            CHATTRAIN_SCENARIOS_DIR=str(REPO_ROOT / "scenarios"), CHATTRAIN_REDIS_KEY_PREFIX=backends.redis_key_prefix
        )
        venv = os.path.relpath(Path(sys.executable).parent.parent, REPO_ROOT)
        run = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "run-scaled",
                f"VENV={venv}",
                f"PORT={port}",
                f"SCALED_DIR={folder}",
                f"DATABASE_URL={backends.database_url}",
                f"QUEUE_URL={backends.queue_url}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            web1, web2 = (Stack(data_dir=folder, port=p, backends=backends) for p in (port, port + 1))
            deadline = time.monotonic() + 90
            health = {}
            while time.monotonic() < deadline:
                try:
                    # Liveness first: once both answer, the database has been migrated.
                    if all(
                        httpx.get(f"{web.base_url}/api/health", timeout=2).status_code == 200 for web in (web1, web2)
                    ):
                        health = web1.health(timeout=2)
                        if health["worker"]["live_workers"] == 2 and web2.health(timeout=2)["status"] == "healthy":
                            break
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                time.sleep(0.3)
            assert health.get("worker", {}).get("live_workers") == 2, health
            token = web1.token
            session = await create_session(web1.base_url, token=token)
            chat = await ChatClient.connect(f"{web2.ws_base}/chat/{session['id']}?after=0", token=token)
            try:
                ack, reply = await chat.say(LINES[0], timeout=30)
            finally:
                await chat.close()
            assert reply["metadata"]["reply_to"] == ack["message_id"]
        finally:
            stop_group(run)
        assert {path.name for path in folder.iterdir() if path.is_dir()} >= {"web1", "web2", "worker1", "worker2"}
        assert not [path for path in folder.rglob("*.db")], "no SQLite file: the data and the queue are on the servers"
