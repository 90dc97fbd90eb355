"""Request ids: every response carries one (the caller's, when it is sane), and in JSON
log mode every line a request or socket logs carries it, with the session it concerns.
(Across real processes, the worker's lines included: tests/e2e/test_json_logs.py.)"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from shared.lib.logs import JsonFormatter
from tests.support.client import frames_until_pong, open_socket, read_session_start


@pytest.fixture(name="json_lines")
def _json_lines():
    """Every line logged during the test, formatted as in CHATTRAIN_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root, chattrain = logging.getLogger(), logging.getLogger("chattrain")
    saved = chattrain.level
    chattrain.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        chattrain.setLevel(saved)


async def test_a_request_without_an_id_gets_a_fresh_one_each_time(client):
    first = (await client.get("/livez")).headers["X-Request-ID"]
    second = (await client.get("/livez")).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


async def test_a_sane_incoming_id_is_kept_and_echoed(client):
    response = await client.get("/api/me", headers={"X-Request-ID": "proxy-7f3a:42.1"})
    assert response.status_code == 401  # an error answer carries it too
    assert response.headers["X-Request-ID"] == "proxy-7f3a:42.1"


@pytest.mark.parametrize("incoming", ["a b", "x" * 129, "<script>", "", "id;drop"])
async def test_an_odd_incoming_id_is_replaced_not_copied(client, incoming):
    echoed = (await client.get("/livez", headers={"X-Request-ID": incoming})).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


async def test_json_lines_of_a_socket_carry_its_request_id_and_session_id(client, users, json_lines):
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await created.get_json())["id"]
    async with open_socket(
        client, f"/chat/{session_id}", users.trainee, headers={"X-Request-ID": "socket-request-1"}
    ) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "user_message", "content": "Hello there, how can I help?"}))
        assert json.loads(await ws.receive())["type"] == "message_ack"
        # Frames are handled one after another: once the ping is answered, the message's
        # handler has finished, its log line included (on PostgreSQL the ack comes from
        # the write thread, before the handler resumes).
        assert await frames_until_pong(ws) == []
    stored = [line for line in json_lines() if line["message"].startswith("trainee message stored")]
    assert len(stored) == 1, json_lines()
    assert stored[0]["request_id"] == "socket-request-1"
    assert stored[0]["session_id"] == session_id
    assert stored[0]["level"] == "DEBUG" and stored[0]["logger"] == "chattrain.web"


def test_a_line_outside_a_request_takes_its_session_id_from_the_text():
    record = logging.LogRecord("chattrain.worker", logging.INFO, __file__, 1, "reply stored session_id=%s", (42,), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["session_id"] == 42 and "request_id" not in line
    assert line["message"] == "reply stored session_id=42"


def test_an_exception_goes_into_the_line_as_one_field():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("chattrain.web", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    formatted = JsonFormatter().format(record)
    assert "\n" not in formatted
    line = json.loads(formatted)
    assert line["exception"].startswith("Traceback") and "ValueError: boom" in line["exception"]
