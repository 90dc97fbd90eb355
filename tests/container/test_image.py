"""The Dockerfile's image, built and run for real with podman on a local Debian base: its
roles, its volume, and a stop in the middle of a reply (`make test-container`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
import websockets

from tests.container.podman import Podman
from tests.support.client import ChatClient, bearer_headers, create_session
from tests.support.stack import free_port

pytestmark = pytest.mark.container

# The image carries no key; an operator passes one, and so does the test.
ENV = {
    "CHATTRAIN_SECRET_KEY": "container-test-secret-key",
    # A reply of ~200 characters streams for about four seconds: time to stop mid-reply.
    "CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "800",
    "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": "5",
}
GOOD_FIRST_REPLY = "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in."
SECOND_MESSAGE = "Thank you. To verify the account, can you confirm the email address?"
STOP_TIMEOUT_SECONDS = 20


@dataclass
class Deployment:
    """Containers of the image on one named volume, removed with it afterwards."""

    podman: Podman
    image: str
    volume: str = field(default_factory=lambda: f"chattrain-test-{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    containers: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _options(self) -> list[str]:
        # The health check runs when asked (`podman healthcheck run`), not on a timer:
        # podman's timers need systemd.
        options = ["--volume", f"{self.volume}:/app/data", "--health-interval", "disable"]
        for name, value in ENV.items():
            options += ["--env", f"{name}={value}"]
        return options

    def run_once(self, *args: str) -> str:
        """Run a one-off role to completion and return what it printed."""
        return self.podman.text("run", "--rm", *self._options(), self.image, *args)

    def start(self, *args: str, publish: bool = True) -> str:
        name = f"{self.volume}-{len(self.containers) + 1}"
        ports = ["--publish", f"127.0.0.1:{self.port}:8000"] if publish else []
        self.podman.run("run", "--detach", "--name", name, *ports, *self._options(), self.image, *args)
        self.containers.append(name)
        return name

    def stop(self, name: str) -> int:
        """`podman stop`: SIGTERM, then SIGKILL if the container outlives the timeout."""
        self.podman.run("stop", "--time", str(STOP_TIMEOUT_SECONDS), name, timeout=STOP_TIMEOUT_SECONDS + 30)
        return int(self.podman.text("inspect", "--format", "{{.State.ExitCode}}", name))

    def logs(self, name: str) -> str:
        result = self.podman.run("logs", name, check=False)
        return (result.stdout + result.stderr).decode(errors="replace")

    def wait_ready(self, token: str, running: list[str], timeout: float = 60) -> None:
        """Until the web process answers and a worker has sent its heartbeat."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name in running:
                if self.podman.text("inspect", "--format", "{{.State.Running}}", name).strip() != "true":
                    raise AssertionError(f"container {name} exited:\n{self.logs(name)[-4000:]}")
            try:
                last = httpx.get(f"{self.base_url}/api/health", headers=bearer_headers(token), timeout=2).json()
                if last.get("worker", {}).get("alive"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise TimeoutError(
            f"not ready after {timeout}s: {last}\n" + "\n".join(self.logs(name)[-3000:] for name in running)
        )

    def remove(self) -> None:
        for name in self.containers:
            self.podman.run("rm", "--force", "--time", "0", name, check=False)
        self.podman.run("volume", "rm", "--force", self.volume, check=False)


@pytest.fixture(name="deployment")
def _deployment(podman: Podman, image: str):
    deployment = Deployment(podman, image)
    podman.run("volume", "create", deployment.volume)
    try:
        yield deployment
    finally:
        deployment.remove()


def make_trainee(deployment: Deployment) -> str:
    """Migrate the fresh volume and create a trainee, with the image's one-off roles."""
    deployment.run_once("migrate")
    return (
        deployment.run_once("chattrain", "users", "create", "--role", "trainee", "--id", "trainee-1", "--token-only")
        .strip()
        .splitlines()[-1]
    )


def assemble(deltas: list[dict]) -> str:
    """What a client shows from the deltas: a delta with `restart` replaces the text."""
    text = ""
    for delta in deltas:
        text = delta["content"] if delta.get("restart") else text + delta["content"]
    return text


async def drain(chat: ChatClient) -> None:
    """Read what the server sent until it closed the socket."""
    try:
        while True:
            await chat.recv(timeout=STOP_TIMEOUT_SECONDS)
    except websockets.ConnectionClosed:
        pass


async def get_json(deployment: Deployment, path: str, token: str) -> dict:
    async with httpx.AsyncClient(base_url=deployment.base_url, headers=bearer_headers(token), timeout=10) as http:
        response = await http.get(path)
        response.raise_for_status()
        return response.json()


async def test_a_stop_mid_reply_requeues_it_and_a_new_container_on_the_volume_sends_it_once(deployment: Deployment):
    token = make_trainee(deployment)
    first = deployment.start()  # the default role: web and worker together
    deployment.wait_ready(token, [first])
    assert deployment.podman.run("healthcheck", "run", first, check=False).returncode == 0, deployment.logs(first)

    session = await create_session(deployment.base_url, token=token)
    ws_url = f"ws://127.0.0.1:{deployment.port}/chat/{session['id']}"
    chat = await ChatClient.connect(f"{ws_url}?after=0", token=token)
    first_ack, first_reply = await chat.say(GOOD_FIRST_REPLY, timeout=30)
    await chat.send("user_message", SECOND_MESSAGE)
    ack = await chat.recv_until("message_ack")
    await chat.recv_until("assistant_delta", reply_to=ack["message_id"], timeout=30)

    started = time.monotonic()
    exit_code = await asyncio.to_thread(deployment.stop, first)
    assert time.monotonic() - started < STOP_TIMEOUT_SECONDS, "the container outlived SIGTERM and was killed"
    assert exit_code != 137, deployment.logs(first)
    assert "requeued after interruption" in deployment.logs(first), "SIGTERM did not reach the worker"
    await drain(chat)
    last_seen = max(frame["event_id"] for frame in chat.received if "event_id" in frame)

    second = deployment.start()
    deployment.wait_ready(token, [second])
    resumed = await ChatClient.connect(f"{ws_url}?after={last_seen}", token=token)
    try:
        reply = await resumed.reply_to(ack["message_id"], timeout=60)
    finally:
        await resumed.close()

    frames = chat.received + resumed.received
    event_ids = [frame["event_id"] for frame in frames if "event_id" in frame]
    assert len(event_ids) == len(set(event_ids)), "an event arrived twice"
    finals = [f for f in frames if f["type"] == "assistant_message" and f["metadata"]["reply_to"] == ack["message_id"]]
    assert len(finals) == 1
    deltas = [f for f in frames if f["type"] == "assistant_delta" and f["reply_to"] == ack["message_id"]]
    assert assemble(deltas) == reply["content"]

    # What the first container stored is on the volume: the user, the session, the first
    # exchange; and the interrupted reply was stored once.
    stored = await get_json(deployment, f"/api/sessions/{session['id']}", token)
    messages = {message["id"]: message for message in stored["messages"]}
    assert messages[first_ack["message_id"]]["role"] == "user"
    assert [m["content"] for m in stored["messages"] if m["reply_to"] == first_ack["message_id"]] == [
        first_reply["content"]
    ]
    assert [m["content"] for m in stored["messages"] if m["reply_to"] == ack["message_id"]] == [reply["content"]]


async def test_web_and_worker_roles_in_their_own_containers_share_the_volume(deployment: Deployment):
    token = make_trainee(deployment)
    worker = deployment.start("worker", publish=False)
    web = deployment.start("web")
    deployment.wait_ready(token, [web, worker])
    assert deployment.podman.run("healthcheck", "run", web, check=False).returncode == 0, deployment.logs(web)
    # The worker's container has no web process to ask: healthy while it runs.
    assert deployment.podman.run("healthcheck", "run", worker, check=False).returncode == 0, deployment.logs(worker)

    session = await create_session(deployment.base_url, token=token)
    chat = await ChatClient.connect(f"ws://127.0.0.1:{deployment.port}/chat/{session['id']}?after=0", token=token)
    try:
        _, reply = await chat.say(GOOD_FIRST_REPLY, timeout=30)
    finally:
        await chat.close()
    assert reply["content"]
    assert deployment.stop(worker) != 137
    assert deployment.stop(web) != 137
