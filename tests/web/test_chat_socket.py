"""The chat socket through Quart's test client: framing, validation and storage. No
worker runs here, so replies are left to the end-to-end tests; these check what the web
process itself does and stores."""

from __future__ import annotations

import asyncio
import json

import pytest
from quart.testing.connections import WebsocketDisconnectError

from shared.db import events as event_rows
from shared.db.jobs import select_reply_job
from shared.db.messages import select_messages
from tests.support.client import open_socket, read_session_start


async def _session(client, user) -> int:  # noqa: ANN001
    response = await client.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
    return (await response.get_json())["id"]


async def _recv(ws, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.receive(), timeout))


async def _recv_type(ws, type: str) -> dict:
    while True:
        frame = await _recv(ws)
        if frame["type"] == type:
            return frame


async def test_the_server_sends_session_start_on_connect_unasked(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        start = await read_session_start(ws)
        assert start["session_id"] == session_id
        assert start["content"] and start["timestamp"].endswith("+00:00")
        assert start["last_event_id"] == 1  # the opening line
        assert start["scenario"]["title"]


async def test_session_start_answers_and_sends_the_opening_line(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "session_start", "content": "", "metadata": {}}))
        start = await _recv(ws)
        assert start["type"] == "session_start"
        assert start["session_id"] == session_id
        opening = await _recv(ws)
        assert opening["type"] == "assistant_message"
        assert opening["content"]
        assert opening["event_id"] >= 1
        assert opening["message_id"] >= 1


async def test_user_message_is_stored_acknowledged_and_queued(client, users, app):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(json.dumps({"type": "user_message", "content": "I'm sorry, let me help.", "metadata": {}}))
        ack = await _recv_type(ws, "message_ack")
    messages = await app.app.db.read(select_messages, session_id)
    assert messages[-1]["id"] == ack["message_id"]
    assert messages[-1]["role"] == "user"
    assert messages[-1]["content"] == "I'm sorry, let me help."
    job = await app.app.db.read(select_reply_job, ack["message_id"])
    assert job["status"] == "queued"


async def test_a_nul_in_a_message_is_dropped_so_the_same_text_is_stored_on_either_engine(client, users, app):
    # PostgreSQL's text columns cannot hold U+0000; it once made this an internal_error there.
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(json.dumps({"type": "user_message", "content": "Hel\x00lo\x00", "metadata": {}}))
        ack = await _recv_type(ws, "message_ack")
    messages = await app.app.db.read(select_messages, session_id)
    assert (messages[-1]["id"], messages[-1]["content"]) == (ack["message_id"], "Hello")


BAD_FRAMES = [
    ("{not json", "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    ('"just a string"', "invalid_frame"),
    (json.dumps({"content": "no type"}), "invalid_frame"),
    (json.dumps({"type": "shout", "content": "x"}), "unknown_type"),
    (json.dumps({"type": 5, "content": "x"}), "invalid_frame"),
    (json.dumps({"type": "user_message"}), "empty_content"),
    (json.dumps({"type": "user_message", "content": "   "}), "empty_content"),
    (json.dumps({"type": "user_message", "content": 42}), "invalid_frame"),
    (json.dumps({"type": "user_message", "content": "hi", "metadata": []}), "invalid_frame"),
    (json.dumps({"type": "user_message", "content": "hi", "metadata": {"client_message_id": 7}}), "invalid_frame"),
    (json.dumps({"type": "user_message", "content": "x" * 4001}), "message_too_long"),
    (json.dumps({"type": "user_message", "content": "x" * 70000}), "frame_too_large"),
    (json.dumps({"type": "retry", "content": "", "metadata": {}}), "invalid_frame"),
    (json.dumps({"type": "retry", "content": "", "metadata": {"message_id": 999999}}), "message_not_found"),
    (json.dumps({"type": "session_start", "metadata": {"last_event_id": -1}}), "invalid_frame"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_FRAMES)
async def test_bad_frame_gets_an_error_frame_and_the_socket_stays_usable(client, users, app, raw, code):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(json.dumps({"type": "user_message", "content": "first, stored", "metadata": {}}))
        first = await _recv_type(ws, "message_ack")
        await ws.send(raw)
        error = await _recv_type(ws, "error")
        assert error["code"] == code
        assert error["content"]
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv_type(ws, "pong"))["type"] == "pong"
        await ws.send(json.dumps({"type": "user_message", "content": "second, stored", "metadata": {}}))
        second = await _recv_type(ws, "message_ack")
    messages = await app.app.db.read(select_messages, session_id)
    user_texts = [m["content"] for m in messages if m["role"] == "user"]
    assert user_texts == ["first, stored", "second, stored"]
    assert second["message_id"] > first["message_id"]


async def test_binary_frame_gets_an_error_frame(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(b"\x00\x01")
        assert (await _recv_type(ws, "error"))["code"] == "invalid_frame"


async def test_resent_client_message_id_is_acknowledged_once_and_stored_once(client, users, app):
    session_id = await _session(client, users.trainee)
    frame = json.dumps({"type": "user_message", "content": "hello", "metadata": {"client_message_id": "c-1"}})
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(frame)
        first = await _recv_type(ws, "message_ack")
        await ws.send(frame)
        second = await _recv_type(ws, "message_ack")
    assert first["duplicate"] is False and second["duplicate"] is True
    assert first["message_id"] == second["message_id"]
    messages = await app.app.db.read(select_messages, session_id)
    assert [m["content"] for m in messages if m["role"] == "user"] == ["hello"]


@pytest.mark.parametrize(
    "client_message_id",
    ["4111-1111-1111-1111", "4111.1111.1111.1111", "4111111111111111", "536-22-1234", "555.123.4567", "555-123-4567"],
)
async def test_a_client_message_id_is_echoed_as_sent_but_stored_only_as_a_keyed_digest(
    client, users, app, client_message_id
):
    # Dashed and dotted cards, SSNs and phones pass the opaque-token rule; none may be stored.
    session_id = await _session(client, users.trainee)
    frame = json.dumps(
        {"type": "user_message", "content": "hello", "metadata": {"client_message_id": client_message_id}}
    )
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(frame)
        first = await _recv_type(ws, "message_ack")
        await ws.send(frame)
        second = await _recv_type(ws, "message_ack")
    assert first["client_message_id"] == second["client_message_id"] == client_message_id
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["message_id"] == second["message_id"]
    [stored] = [m for m in await app.app.db.read(select_messages, session_id) if m["role"] == "user"]
    digits = "".join(ch for ch in client_message_id if ch.isdigit())
    assert stored["client_message_id"].startswith("hmac=")
    for part in {client_message_id, digits, *client_message_id.replace(".", "-").split("-")}:
        assert part not in stored["client_message_id"]


async def test_one_client_message_id_in_two_sessions_is_two_messages_with_unlinkable_digests(client, users, app):
    frame = json.dumps({"type": "user_message", "content": "hello", "metadata": {"client_message_id": "c-1"}})
    stored = []
    for _ in range(2):
        session_id = await _session(client, users.trainee)
        async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
            await ws.send(frame)
            ack = await _recv_type(ws, "message_ack")
        assert (ack["client_message_id"], ack["duplicate"]) == ("c-1", False)
        stored += [
            m["client_message_id"] for m in await app.app.db.read(select_messages, session_id) if m["role"] == "user"
        ]
    assert len(set(stored)) == 2 and "c-1" not in stored


async def test_unknown_session_is_closed_with_a_reason(client, users):
    async with open_socket(client, "/chat/987654", users.trainee) as ws:
        error = await _recv(ws)
        assert error["type"] == "error" and error["code"] == "session_not_found"
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.args[0] == 4404


async def test_bad_after_parameter_gets_an_error_frame(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}?after=abc", users.trainee) as ws:
        await read_session_start(ws)
        assert (await _recv(ws))["code"] == "invalid_frame"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"


async def test_reconnect_with_after_replays_only_newer_events(client, users):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}?after=0", users.trainee) as ws:
        opening = await _recv_type(ws, "assistant_message")
    async with open_socket(client, f"/chat/{session_id}?after={opening['event_id']}", users.trainee) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"  # nothing replayed before it


async def _write_event(app, session_id: int, content: str) -> None:  # noqa: ANN001
    """An event as the worker writes one, then a wake-up so the tailer reads it now."""
    await app.app.db.write(
        event_rows.insert_event, session_id=session_id, frame=("assistant_delta", {"content": content})
    )
    app.app.tailer.wake()


async def test_event_ids_count_the_sessions_own_events_and_reveal_nothing_of_others(client, users, app):
    """session_start.last_event_id and every event_id are the session's own sequence: how
    many sessions others run, and how busy they are, cannot be read from them."""
    mine = await _session(client, users.trainee)
    for _ in range(3):
        others = await _session(client, users.other)
        await _write_event(app, others, "someone else's")
    async with open_socket(client, f"/chat/{mine}", users.trainee) as ws:
        await ws.send(json.dumps({"type": "session_start", "content": "", "metadata": {}}))
        start = await _recv_type(ws, "session_start")
        opening = await _recv_type(ws, "assistant_message")
        assert start["last_event_id"] == 1 and opening["event_id"] == 1
        await _write_event(app, others, "someone else's, live")
        await _write_event(app, mine, "mine, live")
        live = await _recv_type(ws, "assistant_delta")
        assert (live["event_id"], live["content"]) == (2, "mine, live")
    async with open_socket(client, f"/chat/{mine}", users.trainee) as ws:
        await ws.send(json.dumps({"type": "session_start", "content": "", "metadata": {"last_event_id": 1}}))
        assert (await _recv_type(ws, "session_start"))["last_event_id"] == 2
        replayed = await _recv_type(ws, "assistant_delta")  # only what came after event 1
        assert (replayed["event_id"], replayed["content"]) == (2, "mine, live")
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"


async def test_a_cursor_beyond_the_sessions_newest_event_still_gets_live_events(client, users, app):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}?after=1000000", users.trainee) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"  # nothing to replay
        await _write_event(app, session_id, "live")
        live = await _recv_type(ws, "assistant_delta")
        assert (live["event_id"], live["content"]) == (2, "live")


async def test_a_client_that_never_sends_session_start_gets_every_event_after_the_announced_one(client, users, app):
    """The original protocol's clients read the session_start the server sends on connect
    and then chat: their first frame starts the stream from the announced last_event_id,
    so an event written between the connect and that frame is not lost."""
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        assert (await read_session_start(ws))["last_event_id"] == 1
        await _write_event(app, session_id, "written before the client spoke")
        await ws.send(json.dumps({"type": "user_message", "content": "Hello, I need help", "metadata": {}}))
        frames = [await _recv(ws), await _recv(ws)]
    by_type = {frame["type"]: frame for frame in frames}
    assert by_type.keys() == {"assistant_delta", "message_ack"}
    assert (by_type["assistant_delta"]["event_id"], by_type["assistant_delta"]["content"]) == (
        2,
        "written before the client spoke",
    )


async def test_session_start_after_the_stream_began_answers_without_replaying_twice(client, users, app):
    """Once a socket follows the session (its first frame was not session_start, or it
    connected with ?after), a session_start is answered and replays nothing it has sent."""
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"
        await _write_event(app, session_id, "live")
        assert (await _recv_type(ws, "assistant_delta"))["event_id"] == 2
        await ws.send(json.dumps({"type": "session_start", "content": "", "metadata": {}}))
        assert (await _recv(ws))["last_event_id"] == 2
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv(ws))["type"] == "pong"  # no replay came before it
