"""compose.yaml brought up for real with podman-compose (`make test-container`): the default
layout (one container on SQLite, a masking key generated into its volume on first start)
and the `scaled` profile (PostgreSQL, Redis, a migration that also generates the key, two
web processes and two workers), each holding a conversation over the WebSocket on every
web process.

The scaled layout starts in the steps docs/operations.md gives for podman-compose, which
are the order compose.yaml's `depends_on` conditions give Docker Compose: on Podman 4.3
(Debian 12) podman-compose skips `service_healthy` (and podman runs health checks on a
timer only under systemd, so the test runs them), and a container that requires the
finished migration would start it again."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import httpx
import pytest
import yaml

from tests.container.compose import Compose, ensure_service_names_resolve, stand_in_image
from tests.container.podman import Podman
from tests.support.client import ChatClient, bearer_headers, create_session
from tests.support.stack import free_port

pytestmark = pytest.mark.container

GOOD_REPLY = "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in."
SCALED_APPS = ["web-1", "web-2", "worker-1", "worker-2"]


def project_variables(image: str) -> dict[str, str]:
    return {
        "CHATTRAIN_IMAGE": image,
        "CHATTRAIN_PORT": str(free_port()),
        "CHATTRAIN_PORT_2": str(free_port()),
    }


@pytest.fixture(name="one_box")
def _one_box(podman: Podman, image: str):
    ensure_service_names_resolve(podman)
    compose = Compose(podman, f"chattrain-test-{uuid.uuid4().hex[:8]}", project_variables(image))
    try:
        yield compose
    finally:
        compose.down()


@pytest.fixture(name="scaled")
def _scaled(podman: Podman, image: str, base_image: str):
    ensure_service_names_resolve(podman)
    variables = {
        **project_variables(image),
        "CHATTRAIN_POSTGRES_IMAGE": stand_in_image(podman, "postgres", base_image),
        "CHATTRAIN_REDIS_IMAGE": stand_in_image(podman, "redis", base_image),
    }
    compose = Compose(podman, f"chattrain-test-{uuid.uuid4().hex[:8]}", variables, profiles=("scaled",))
    try:
        yield compose
    finally:
        compose.down()


def create_trainee(compose: Compose, service: str) -> str:
    """A trainee made with the image's command line inside a running container; its token."""
    output = compose.exec(service, "chattrain", "users", "create", "--role", "trainee", "--token-only")
    return output.strip().splitlines()[-1]


def health(port: int, token: str) -> dict:
    response = httpx.get(f"http://127.0.0.1:{port}/api/health", headers=bearer_headers(token), timeout=10)
    response.raise_for_status()
    return response.json()


def wait_for_workers(port: int, token: str, count: int, timeout: float = 60) -> dict:
    """/api/health once `count` workers have sent their heartbeat (each sends one as it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        state = health(port, token)
        if state["worker"]["live_workers"] == count or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


async def converse(port: int, token: str, scenario: str = "customer-service") -> tuple[dict, dict]:
    """A session started on this web process and one exchange over its socket: the ack
    and the customer's reply."""
    base_url = f"http://127.0.0.1:{port}"
    session = await create_session(base_url, scenario, token=token)
    chat = await ChatClient.connect(f"ws://127.0.0.1:{port}/chat/{session['id']}?after=0", token=token)
    try:
        return await chat.say(GOOD_REPLY, timeout=60)
    finally:
        await chat.close()


async def test_the_default_layout_runs_one_container_on_sqlite_with_a_key_generated_into_its_volume(
    one_box: Compose,
):
    one_box.up()
    assert set(one_box.containers()) == {"chattrain"}  # nothing of the scaled profile
    one_box.wait_healthy(["chattrain"])

    # No key was given: the first start wrote one into the volume, for the owner only.
    key_file = one_box.exec("chattrain", "stat", "--format", "%a %U %s", "/app/data/secret-key").split()
    assert key_file[:2] == ["600", "chattrain"] and int(key_file[2]) > 32
    key = one_box.exec("chattrain", "cat", "/app/data/secret-key")

    token = create_trainee(one_box, "chattrain")
    port = int(one_box.variables["CHATTRAIN_PORT"])
    state = wait_for_workers(port, token, 1)
    assert (state["database"]["backend"], state["worker"]["live_workers"]) == ("sqlite", 1), state
    ack, reply = await converse(port, token)
    assert reply["metadata"]["reply_to"] == ack["message_id"]
    assert reply["content"]

    # Down without --volumes and up again: the same key, the same user, the session kept.
    one_box.run("down", "--timeout", "20")
    one_box.up()
    one_box.wait_healthy(["chattrain"])
    assert one_box.exec("chattrain", "cat", "/app/data/secret-key") == key
    sessions = httpx.get(f"http://127.0.0.1:{port}/api/sessions", headers=bearer_headers(token), timeout=10)
    assert sessions.status_code == 200, sessions.text
    assert len(sessions.json()) == 1
    _, reply = await converse(port, token)
    assert reply["content"]

    # The backup docs/operations.md gives: a copy of the live database on the volume.
    one_box.exec("chattrain", "chattrain", "db", "backup", "/app/data/")
    copies = one_box.exec("chattrain", "sh", "-c", "ls /app/data/chattrain-*.db").split()
    assert len(copies) == 1, copies


async def test_the_scaled_profile_serves_one_conversation_on_each_web_process_over_postgresql_and_redis(
    scaled: Compose,
):
    # What Docker Compose reads from the file: the migration once both servers are
    # healthy, every web process and worker once the migration has finished.
    config = yaml.safe_load(scaled.run("config").stdout)["services"]
    assert config["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for service in SCALED_APPS:
        assert config[service]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    # A key given in the environment reaches every ChatTrain process of both layouts (the
    # run below has none, so the migration generates one).
    given = replace(scaled, variables={**scaled.variables, "CHATTRAIN_SECRET_KEY": "given-key"})
    config = yaml.safe_load(given.run("config").stdout)["services"]
    for service in ["chattrain", "migrate", *SCALED_APPS]:
        assert config[service]["environment"]["CHATTRAIN_SECRET_KEY"] == "given-key", service

    scaled.up("postgres", "redis")
    scaled.wait_healthy(["postgres", "redis"])
    migration = scaled.run("run", "--rm", "--no-deps", "migrate")
    assert b"postgresql+psycopg://chattrain:***@postgres" in migration.stdout + migration.stderr
    scaled.up("--no-deps", *SCALED_APPS)
    assert set(scaled.containers()) == {"postgres", "redis", *SCALED_APPS}
    scaled.wait_healthy(SCALED_APPS)

    # No key was given: the migration wrote one into the shared volume, for the owner
    # only, and every process reads that one (none starts without a key).
    assert scaled.exec("web-1", "stat", "--format", "%a %U", "/app/data/secret-key").split() == ["600", "chattrain"]
    keys = {scaled.exec(service, "cat", "/app/data/secret-key") for service in SCALED_APPS}
    assert len(keys) == 1 and len(keys.pop().strip()) > 32

    token = create_trainee(scaled, "web-2")
    ports = [int(scaled.variables["CHATTRAIN_PORT"]), int(scaled.variables["CHATTRAIN_PORT_2"])]
    state = wait_for_workers(ports[0], token, 2)
    assert (state["database"]["backend"], state["queue"]["backend"]) == ("postgresql", "redis"), state
    assert state["worker"]["live_workers"] == 2, state

    replies = []
    for port in ports:
        ack, reply = await converse(port, token)
        assert reply["metadata"]["reply_to"] == ack["message_id"]
        replies.append(reply)
    assert all(reply["content"] for reply in replies)

    # Both sessions are in the one database: each web process lists both.
    for port in ports:
        sessions = httpx.get(f"http://127.0.0.1:{port}/api/sessions", headers=bearer_headers(token), timeout=10)
        assert len(sessions.json()) == 2, sessions.text
