"""A socket with no activity for the scenario's idle_timeout_seconds is told why and
closed with 4408; pings do not count as activity, and the session itself stays open."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from quart.testing.connections import WebsocketDisconnectError

from shared.settings import Settings
from tests.support.client import open_socket, read_session_start
from tests.support.stack import REPO_ROOT


@pytest.fixture(name="settings")
def _settings(tmp_path: Path, database_url: str) -> Settings:
    scenarios = tmp_path / "scenarios"
    shutil.copytree(REPO_ROOT / "scenarios" / "customer-service", scenarios / "customer-service")
    path = scenarios / "customer-service" / "scenario.yaml"
    text = path.read_text()
    assert "idle_timeout_seconds:" in text
    lines = [
        line if not line.startswith("idle_timeout_seconds:") else "idle_timeout_seconds: 1"
        for line in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
    return Settings(data_dir=tmp_path / "data", scenarios_dir=scenarios, database_url=database_url)


async def test_idle_socket_is_closed_with_a_reason_and_pings_do_not_keep_it_open(client, users):
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await created.get_json())["id"]
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.receive())["type"] == "pong"
        await asyncio.sleep(0.6)
        await ws.send(json.dumps({"type": "ping"}))  # not activity: the clock keeps running
        frames = []
        with pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.receive(), 5)))
    assert closed.value.args[0] == 4408
    assert {"type": "error", "code": "idle_timeout"}.items() <= frames[-1].items()
    session = await client.get(f"/api/sessions/{session_id}", headers=users.trainee.headers)
    assert (await session.get_json())["status"] == "active"
