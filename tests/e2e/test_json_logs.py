"""CHATTRAIN_LOG_FORMAT=json on the real processes: every line the web process and the
worker write (Hypercorn's and Huey's included) parses as one JSON object; the lines a
socket causes carry its request id (the client's X-Request-ID) and its session id; the
worker's lines about a reply carry the session id."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.client import ChatClient, create_session
from tests.support.stack import started_stack

pytestmark = pytest.mark.e2e


async def test_every_line_is_json_with_request_and_session_ids(tmp_path: Path):
    with started_stack(tmp_path / "data", CHATTRAIN_LOG_FORMAT="json", CHATTRAIN_LOG_LEVEL="DEBUG") as stack:
        session = await create_session(stack.base_url, token=stack.token)
        response = httpx.get(f"{stack.base_url}/livez", headers={"X-Request-ID": "probe-1"}, timeout=5)
        assert response.headers["X-Request-ID"] == "probe-1"
        chat = await ChatClient.connect(
            f"{stack.ws_base}/chat/{session['id']}?after=0",
            token=stack.token,
            additional_headers={"X-Request-ID": "e2e-socket-7"},
        )
        try:
            ack, _ = await chat.say("Hello, I'm sorry about the trouble. How can I help you today?", timeout=30)
        finally:
            await chat.close()
        stack.stop_all()  # shutdown lines too
        logs = {name: stack.log_text(name) for name in ("web", "worker")}

    lines = {name: [json.loads(line) for line in text.splitlines() if line.strip()] for name, text in logs.items()}
    for name, parsed in lines.items():
        assert parsed, f"{name} wrote nothing"
        assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed), name
    web_stored = [line for line in lines["web"] if line["message"].startswith("trainee message stored")]
    assert len(web_stored) == 1, lines["web"]
    assert web_stored[0]["request_id"] == "e2e-socket-7" and web_stored[0]["session_id"] == session["id"]
    assert any(line["logger"].startswith("hypercorn") for line in lines["web"])
    about_the_reply = [line for line in lines["worker"] if f"message_id={ack['message_id']}" in line["message"]]
    assert about_the_reply, lines["worker"]
    assert all(line["session_id"] == session["id"] for line in about_the_reply)
