"""Odd input from a hostile or broken client: each gets a 4xx with the API's JSON error
body (HTTP) or an error frame with a code (socket), never a 500, an internal_error, a
logged traceback or a silent close; nothing is stored. One test per kind of input."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
from quart.testing.connections import WebsocketResponseError

from shared.db.messages import select_messages
from tests.support.client import frames_until_pong, open_socket

MAX_SQLITE_INTEGER = 2**63 - 1
THOUSANDS_OF_DIGITS = "9" * 5000
NESTED_5000_DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture(name="logged_errors", autouse=True)
def _logged_errors():
    """Every ERROR record of the app's loggers ("chattrain", Quart's app logger
    included); each test ends by checking there was none."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.ERROR)
    logger = logging.getLogger("chattrain")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
    assert not records, [record.getMessage() for record in records]


async def _session(client, user) -> int:  # noqa: ANN001
    response = await client.post("/api/sessions", json={"scenario_id": 1}, headers=user.headers)
    return (await response.get_json())["id"]


async def _error_codes_for(client, user, path: str, *raw_frames: str) -> list[str]:  # noqa: ANN001
    async with open_socket(client, path, user) as ws:
        for raw in raw_frames:
            await ws.send(raw)
        frames = await frames_until_pong(ws)
    return [frame["code"] for frame in frames if frame["type"] == "error"]


async def _trainee_messages(app, session_id: int) -> list[str]:  # noqa: ANN001
    return [m["content"] for m in await app.app.db.read(select_messages, session_id) if m["role"] == "user"]


def _message(content: str, **metadata: object) -> str:
    return json.dumps({"type": "user_message", "content": content, "metadata": metadata})


async def _assert_json_error(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, (response.status_code, await response.get_data(as_text=True))
    body = await response.get_json()
    assert isinstance(body["code"], str) and body["detail"]
    return body


# --- HTTP bodies -----------------------------------------------------------------------


async def test_a_body_that_is_not_utf8_is_400(client, users):
    response = await client.post(
        "/api/sessions",
        data=b'{"scenario_id": "caf\xe9"}',  # Latin-1 bytes
        headers={"Content-Type": "application/json", **users.trainee.headers},
    )
    assert (await _assert_json_error(response, 400))["code"] == "invalid_json"


async def test_a_body_that_declares_another_charset_is_415_and_utf8_is_accepted(client, users):
    for charset, status in (("latin-1", 415), ("utf-16", 415), ("UTF-8", 201), ("utf8", 201)):
        response = await client.post(
            "/api/sessions",
            data=json.dumps({"scenario_id": 1}).encode(),
            headers={"Content-Type": f"application/json; charset={charset}", **users.trainee.headers},
        )
        if status == 415:
            assert (await _assert_json_error(response, 415))["code"] == "unsupported_media_type", charset
        else:
            assert response.status_code == 201, charset


async def test_a_body_nested_5000_deep_is_400(client, users):
    for body in (NESTED_5000_DEEP, '{"scenario_id": 1, "user_id": ' + NESTED_5000_DEEP + "}"):
        response = await client.post(
            "/api/sessions", data=body, headers={"Content-Type": "application/json", **users.trainee.headers}
        )
        assert (await _assert_json_error(response, 400))["code"] == "invalid_json"


# --- Ids in paths and query strings ----------------------------------------------------


@pytest.mark.parametrize("too_big", [THOUSANDS_OF_DIGITS, str(MAX_SQLITE_INTEGER + 1)])
@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/{}",
        "/api/sessions/{}/report",
        "/api/sessions/{}/transcript",
        "/api/scenarios/{}",
        "/api/scenarios/{}/stats",
        "/api/documents/{}/billing_and_refund_policy.md",
    ],
)
async def test_an_id_too_big_to_store_in_a_path_is_404(client, users, path, too_big):
    response = await client.get(path.format(too_big), headers=users.trainer.headers)
    await _assert_json_error(response, 404)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        (f"scenario_id={THOUSANDS_OF_DIGITS}", 404, "scenario_id"),
        (f"scenario_id={MAX_SQLITE_INTEGER + 1}", 404, "scenario_id"),
        (f"offset={THOUSANDS_OF_DIGITS}", 400, "offset"),
        (f"limit={THOUSANDS_OF_DIGITS}", 400, "limit"),
    ],
)
async def test_an_id_or_number_of_thousands_of_digits_in_a_query_is_4xx(client, users, query, status, field):
    response = await client.get(f"/api/sessions?{query}", headers=users.trainer.headers)
    body = await _assert_json_error(response, status)
    assert body.get("field") == field


async def test_a_socket_path_with_a_session_id_too_big_to_store_is_404_at_the_handshake(client, users):
    for too_big in (THOUSANDS_OF_DIGITS, str(MAX_SQLITE_INTEGER + 1)):
        with pytest.raises(WebsocketResponseError) as refused:
            async with open_socket(client, f"/chat/{too_big}", users.trainee) as ws:
                await ws.receive()
        assert refused.value.response.status_code == 404


# --- The socket's `after` parameter -----------------------------------------------------


@pytest.mark.parametrize(
    "after",
    [
        "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() and int() accept it
        "\u00b3",  # SUPERSCRIPT THREE: str.isdigit() accepts it, int() does not
        "\uff11",  # FULLWIDTH DIGIT ONE
        str(MAX_SQLITE_INTEGER + 1),
        THOUSANDS_OF_DIGITS,
        "-1",
        "+1",
        " 1",
    ],
)
async def test_an_after_parameter_that_is_not_a_stored_event_number_is_invalid_frame(client, users, after):
    session_id = await _session(client, users.trainee)
    codes = await _error_codes_for(client, users.trainee, f"/chat/{session_id}?after={quote(after)}")
    assert codes == ["invalid_frame"]


async def test_the_largest_stored_integer_is_a_valid_after_parameter(client, users):
    session_id = await _session(client, users.trainee)
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}?after={MAX_SQLITE_INTEGER}") == []


# --- Numbers in frames -----------------------------------------------------------------


@pytest.mark.parametrize("last_event_id", [MAX_SQLITE_INTEGER + 1, 2**64, 10**30])
async def test_a_last_event_id_too_big_to_store_is_invalid_frame(client, users, last_event_id):
    session_id = await _session(client, users.trainee)
    frame = json.dumps({"type": "session_start", "content": "", "metadata": {"last_event_id": last_event_id}})
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}", frame) == ["invalid_frame"]


@pytest.mark.parametrize("message_id", [MAX_SQLITE_INTEGER + 1, 2**64, 10**30])
async def test_a_retry_message_id_too_big_to_store_is_invalid_frame(client, users, message_id):
    session_id = await _session(client, users.trainee)
    frame = json.dumps({"type": "retry", "content": "", "metadata": {"message_id": message_id}})
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}", frame) == ["invalid_frame"]


# --- Frames nested deep or not valid Unicode -------------------------------------------


async def test_a_frame_nested_5000_deep_is_an_error_frame(client, users, app):
    session_id = await _session(client, users.trainee)
    frame = '{"type": "user_message", "content": "hello", "extra": ' + NESTED_5000_DEEP + "}"
    codes = await _error_codes_for(client, users.trainee, f"/chat/{session_id}", NESTED_5000_DEEP, frame)
    assert codes == ["invalid_json", "invalid_json"]
    assert await _trainee_messages(app, session_id) == []


async def test_metadata_nested_5000_deep_is_an_error_frame(client, users, app):
    session_id = await _session(client, users.trainee)
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    frame = '{"type": "user_message", "content": "hello", "metadata": {"client_message_id": "c-1", "x": ' + deep + "}}"
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}", frame) == ["invalid_json"]
    assert await _trainee_messages(app, session_id) == []


async def test_a_lone_surrogate_in_content_is_an_error_frame_and_nothing_is_stored(client, users, app):
    session_id = await _session(client, users.trainee)
    frames = [
        '{"type": "user_message", "content": "card \\ud800 here"}',
        '{"type": "user_message", "content": "\\udc00"}',
    ]
    codes = await _error_codes_for(client, users.trainee, f"/chat/{session_id}", *frames)
    assert codes == ["invalid_json", "invalid_json"]
    assert await _trainee_messages(app, session_id) == []


# --- client_message_id is an opaque token ----------------------------------------------


@pytest.mark.parametrize(
    "client_message_id",
    [
        "jane.doe@example.com",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111\u00a0",
        "+44 20 7946 0958",
        "Jane Doe",
        "c/1",
        "é1",
        "",
        "x" * 101,
    ],
)
async def test_a_client_message_id_that_is_not_an_opaque_token_is_invalid_frame(client, users, app, client_message_id):
    session_id = await _session(client, users.trainee)
    frame = _message("hello", client_message_id=client_message_id)
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}", frame) == ["invalid_frame"]
    assert await _trainee_messages(app, session_id) == []


@pytest.mark.parametrize(
    "client_message_id",
    ["3f2b8c1e-4a6d-4f0e-9b7a-2c5d8e1f0a3b", "01HZX3J8Y5N2Q7K9M4P6R8T0VW", "tab-2:msg.17_b", "x" * 100],
)
async def test_a_client_message_id_that_is_an_opaque_token_is_stored_and_echoed(client, users, app, client_message_id):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(_message("hello", client_message_id=client_message_id))
        frames = await frames_until_pong(ws)
    acks = [frame for frame in frames if frame["type"] == "message_ack"]
    assert [ack["client_message_id"] for ack in acks] == [client_message_id]
    assert await _trainee_messages(app, session_id) == ["hello"]


# --- Blank means blank after removing invisible characters ------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "\u200b",  # ZERO WIDTH SPACE
        "\u200b\u200c\u200d\u2060\ufeff",  # and the joiners, WORD JOINER, BOM
        " \u200b \u00ad\t\n",  # with spaces and a SOFT HYPHEN
        "\u3164\u115f\u2800",  # HANGUL FILLER, HANGUL CHOSEONG FILLER, BRAILLE PATTERN BLANK
        "\ufe0f\u034f\U000e0020",  # a variation selector, COMBINING GRAPHEME JOINER, a tag
        "\x00\x07",  # control characters
    ],
)
async def test_a_message_of_only_invisible_characters_is_empty_content(client, users, app, content):
    session_id = await _session(client, users.trainee)
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}", _message(content)) == ["empty_content"]
    assert await _trainee_messages(app, session_id) == []


async def test_a_message_with_visible_text_among_invisible_characters_is_stored(client, users, app):
    session_id = await _session(client, users.trainee)
    assert await _error_codes_for(client, users.trainee, f"/chat/{session_id}", _message("\u200bok\u200b")) == []
    assert await _trainee_messages(app, session_id) == ["\u200bok\u200b"]
