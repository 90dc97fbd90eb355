"""Arbitrary frames thrown at the chat socket (hypothesis, on Quart's test client): random
JSON values, frames of every type with random fields, huge strings, binary frames that
are not UTF-8. After each one the socket must still answer a ping, and a message must
be stored exactly when the frame was a valid user_message."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.db.messages import select_messages
from shared.settings import Settings
from tests.support.client import frames_until_pong, open_socket
from tests.support.stack import REPO_ROOT
from web.client_frames import CLIENT_TYPES

MAX_MESSAGE_CHARS = 4000
MAX_FRAME_BYTES = 65536


@pytest.fixture(name="settings")
def _settings(tmp_path: Path, database_url: str) -> Settings:
    # Every example starts a fresh session: no session or message limits here.
    return Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        messages_per_window=0,
        sessions_per_window=0,
        max_active_sessions_per_user=0,
        max_message_chars=MAX_MESSAGE_CHARS,
        max_frame_bytes=MAX_FRAME_BYTES,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
metadata = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "client_message_id": st.none()
            | st.text(max_size=120)
            | st.from_regex(r"[A-Za-z0-9._:-]{1,100}", fullmatch=True)
            | json_values,
            "last_event_id": st.none() | st.integers(min_value=-5, max_value=10**20) | json_values,
            "message_id": st.integers() | json_values,
        },
    ),
)
frame_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(CLIENT_TYPES + ("shout", "")) | st.text(max_size=20) | json_values},
    optional={"content": st.text(max_size=300) | json_values, "metadata": metadata},
)
# Mostly well-formed trainee messages, so that storing is exercised as well as refusing;
# some made of invisible characters only, or with them around visible text.
invisible = st.sampled_from(
    ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u3164", "\ufe0f", "\u2800", " ", "\x00"]
)
contents = st.text(max_size=300) | st.lists(invisible | st.sampled_from(["a", "1", "é"]), max_size=8).map("".join)
user_messages = st.fixed_dictionaries(
    {"type": st.just("user_message"), "content": contents}, optional={"metadata": metadata}
)
huge_messages = st.builds(
    lambda count, char: {"type": "user_message", "content": char * count},
    st.sampled_from([MAX_MESSAGE_CHARS, MAX_MESSAGE_CHARS + 1, 20000, MAX_FRAME_BYTES // 2, MAX_FRAME_BYTES + 10]),
    st.sampled_from(["x", " ", "é", "€", "😀"]),
)
frames = st.one_of(
    user_messages.map(json.dumps),
    frame_objects.map(json.dumps),
    huge_messages.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    # Binary frames, mostly invalid UTF-8. (Not b"": Quart's test client cannot deliver an
    # empty binary frame; a server hands the app None for it, which is refused alike.)
    st.binary(min_size=1, max_size=200),
)


def should_store(raw: str | bytes) -> bool:
    """The protocol's rule for storing a trainee message, written out independently."""
    if not isinstance(raw, str) or len(raw.encode()) > MAX_FRAME_BYTES:
        return False
    try:
        frame = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(frame, dict) or frame.get("type") != "user_message":
        return False
    content, meta = frame.get("content", ""), frame.get("metadata", {})
    if not isinstance(content, str) or not any(_visible(char) for char in content) or len(content) > MAX_MESSAGE_CHARS:
        return False
    if not isinstance(meta, dict):
        return False
    client_id = meta.get("client_message_id")
    return client_id is None or (
        isinstance(client_id, str) and re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", client_id) is not None
    )


def _visible(char: str) -> bool:
    """Not whitespace, a control or format character, a variation selector, a filler, the
    blank Braille pattern or a code point Unicode reserves as invisible (the protocol's
    "blank", written by category and name)."""
    if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
        return False
    point = ord(char)
    if point == 0x2065 or 0xFFF0 <= point <= 0xFFF8 or 0xE0000 <= point <= 0xE0FFF:
        return False
    name = unicodedata.name(char, "")
    return not (
        "VARIATION SELECTOR" in name
        or ("HANGUL" in name and "FILLER" in name)
        or name.startswith("KHMER VOWEL INHERENT")
        or name in ("COMBINING GRAPHEME JOINER", "BRAILLE PATTERN BLANK")
    )


@given(raw=frames)
@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
async def test_any_frame_leaves_the_socket_usable_and_stores_only_valid_messages(app, client, users, raw):
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    session_id = (await created.get_json())["id"]
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await ws.send(raw)
        answers = await frames_until_pong(ws)
    acks = [frame for frame in answers if frame["type"] == "message_ack"]
    refusals = [f"refused: {frame['code']}" for frame in answers if frame["type"] == "error"]
    event("stored" if acks else (refusals or [f"answered: {[frame['type'] for frame in answers]}"])[0])
    assert not any(frame.get("code") == "internal_error" for frame in answers), answers
    stored = [m for m in await app.app.db.read(select_messages, session_id) if m["role"] == "user"]
    assert len(stored) == len(acks) == (1 if should_store(raw) else 0), (raw[:200], answers)
    if acks:
        assert stored[0]["id"] == acks[0]["message_id"]
