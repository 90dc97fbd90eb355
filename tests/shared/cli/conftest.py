"""Training data stored through the real code paths, for the data life-cycle commands
(export, erase): the real app (HTTP, the chat socket, sign-in) and the worker's own
functions (the reply job, the evaluation) on one database, a SQLite file or, with
CHATTRAIN_TEST_DATABASE=postgres, a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner, Result

from shared.cli.main import main
from shared.db.browser_sessions import insert_sign_in_code
from shared.db.users import insert_user
from tests.support.client import AuthUser, open_socket, read_session_start
from worker.evaluation import run_evaluation
from worker.tasks import run_reply_job


@dataclass
class Trainee:
    """A trainee and what the test stored for them."""

    user: AuthUser
    display_name: str
    email: str  # typed into the chat: masked before it is stored
    session_ids: list[int] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)


async def _recv_type(ws, type_: str, timeout: float = 10.0) -> dict:  # noqa: ANN001
    while True:
        frame = json.loads(await asyncio.wait_for(ws.receive(), timeout))
        if frame["type"] == type_:
            return frame


async def _scored_session(app, client, runtime, trainee: Trainee, lines: list[str]) -> int:  # noqa: ANN001
    """A customer-service session: each line sent over the socket and answered by the
    worker's reply job, then ended by the trainee and evaluated by the worker."""
    response = await client.post(
        "/api/sessions", json={"scenario_id": "customer-service"}, headers=trainee.user.headers
    )
    assert response.status_code == 201, await response.get_data()
    session_id = (await response.get_json())["id"]
    async with open_socket(client, f"/chat/{session_id}", trainee.user) as ws:
        await read_session_start(ws)
        for number, line in enumerate(lines):
            await ws.send(json.dumps({"type": "user_message", "content": line, "client_message_id": f"m{number}"}))
            ack = await _recv_type(ws, "message_ack")
            await asyncio.to_thread(run_reply_job, runtime, ack["message_id"])
            await _recv_type(ws, "feedback")
        await ws.send(json.dumps({"type": "end_session"}))
        await ws.send(json.dumps({"type": "ping"}))
        await _recv_type(ws, "pong")
    assert await asyncio.to_thread(run_evaluation, runtime, session_id) is not None
    trainee.session_ids.append(session_id)
    trainee.typed += lines
    return session_id


async def store_trainee(app, client, runtime, user_id: str, display_name: str, email: str) -> Trainee:  # noqa: ANN001
    """A trainee with two scored sessions and one still active (all typed with their email
    address in them), a browser session from a sign-in link, an unused sign-in link and a
    socket ticket: a row of theirs in every table that can hold one."""
    token = await app.app.db.write(insert_user, user_id=user_id, role="trainee", display_name=display_name)
    trainee = Trainee(AuthUser(id=user_id, role="trainee", token=token), display_name, email)
    await _scored_session(
        app,
        client,
        runtime,
        trainee,
        [
            f"I'm so sorry you can't log in. Could you confirm the email on the account? Mine is {email} for reference.",
            "Thank you. I have reset the password; the link is on its way, and I will stay with you until it works.",
        ],
    )
    await _scored_session(app, client, runtime, trainee, [f"Hello, I understand. Write to me at {email}."])
    response = await client.post(
        "/api/sessions", json={"scenario_id": "technical-support"}, headers=trainee.user.headers
    )
    assert response.status_code == 201
    trainee.session_ids.append((await response.get_json())["id"])

    code = await app.app.db.write(insert_sign_in_code, user_id, now=time.time(), ttl_seconds=600)
    assert (await client.post("/api/sign-in", json={"code": code})).status_code == 200
    await app.app.db.write(insert_sign_in_code, user_id, now=time.time(), ttl_seconds=600)  # left unused
    assert (await client.post("/api/ws-ticket", headers=trainee.user.headers)).status_code == 201
    return trainee


@pytest.fixture(name="trainees")
async def _trainees(runtime, app, client):  # noqa: ANN001
    """Two trainees' data on the test's database: `erin` (to erase) and `kept`."""
    erin = await store_trainee(app, client, runtime, "erin-7f3a", "Erin Erasable", "erin.erasable@example.com")
    kept = await store_trainee(app, client, runtime, "kept-2b9c", "Kept Trainee", "kept.trainee@example.org")
    return erin, kept


@pytest.fixture(name="chattrain")
def _chattrain(runtime):  # noqa: ANN001
    """Run `chattrain ...` in a thread (the app's event loop keeps running) on the test's
    database, with the settings a deployment would give it."""
    settings = runtime.settings
    base_env = {
        "CHATTRAIN_DATA_DIR": str(settings.data_dir),
        "CHATTRAIN_DATABASE_URL": settings.database_url,
        "CHATTRAIN_PUBLIC_BASE_URL": "https://train.example.com",
    }

    async def run(*args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner(env={**base_env, **(env or {})})
        return await asyncio.to_thread(runner.invoke, main, list(args), catch_exceptions=False)

    return run
