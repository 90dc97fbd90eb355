"""The frames a client sends on the chat socket: their models and the checks on what they
carry (docs/protocol.md). The frames the server sends are built in
shared/conversation/frames.py."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from shared.conversation.writes import ConversationError
from shared.db.schema import MAX_SQLITE_INTEGER

CLIENT_TYPES = ("session_start", "user_message", "ping", "end_session", "retry")


class SessionStartMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    last_event_id: StrictInt | None = Field(default=None, ge=0, le=MAX_SQLITE_INTEGER)


# An opaque token, as clients make them (UUIDs, ULIDs, counters, "tab-2:17"): it is echoed
# in message_ack as given, so it may not be text that carries personal data written out
# (no spaces, "@", "+", "/" or letters beyond ASCII). What the rule lets through (a card
# number with dashes) is never stored: only its keyed digest is (shared/masking/client_ids.py).
_CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


class UserMessageMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    client_message_id: StrictStr | None = None

    @field_validator("client_message_id")
    @classmethod
    def _opaque_token(cls, value: str | None) -> str | None:
        if value is not None and _CLIENT_MESSAGE_ID.fullmatch(value) is None:
            raise PydanticCustomError(
                "client_message_id", "must be an opaque token: 1 to 100 characters of A-Z a-z 0-9 . _ : -"
            )
        return value


class RetryMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    message_id: StrictInt = Field(ge=1, le=MAX_SQLITE_INTEGER)


class ClientFrame(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: StrictStr
    content: StrictStr = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


def _describe(error: ValidationError, prefix: str = "") -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return f"{prefix}{field}: {first['msg']}"


def parse_client_frame(raw: str | bytes, *, max_frame_bytes: int) -> ClientFrame:
    """Parse and check the envelope of a client frame; raise ConversationError with a code."""
    if not isinstance(raw, str):  # bytes, or None for an empty binary frame (Quart's receive)
        raise ConversationError("invalid_frame", "Frames must be JSON text, not binary.")
    if len(raw) > max_frame_bytes:  # characters >= bytes/4; checked exactly below
        if len(raw.encode()) > max_frame_bytes:
            raise ConversationError("frame_too_large", f"Frames are limited to {max_frame_bytes} bytes.")
    try:
        # orjson, not the standard library: it refuses nesting deeper than 1024 and lone
        # surrogate escapes ("\ud800", which no text column can store) with a ValueError,
        # where json.loads recursed into a RecursionError or let the surrogate through.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ConversationError("invalid_json", f"The frame is not valid JSON: {error.msg}.") from None
    if not isinstance(data, dict):
        raise ConversationError("invalid_frame", "The frame must be a JSON object.")
    try:
        frame = ClientFrame.model_validate(data)
    except ValidationError as error:
        raise ConversationError("invalid_frame", _describe(error)) from None
    if frame.type not in CLIENT_TYPES:
        raise ConversationError(
            "unknown_type", f"Unknown frame type {frame.type[:40]!r}; expected one of {', '.join(CLIENT_TYPES)}."
        )
    return frame


def parse_metadata(model: type[BaseModel], metadata: dict[str, Any]) -> Any:
    try:
        return model.model_validate(metadata)
    except ValidationError as error:
        raise ConversationError("invalid_frame", _describe(error, "metadata.")) from None


# Unicode's default-ignorable code points (DerivedCoreProperties.txt): characters that
# show nothing, zero-width spaces and joiners, the soft hyphen, the BOM, variation
# selectors, tags and fillers among them. With whitespace, control and format characters
# and the blank Braille pattern (U+2800, drawn as a space) they make a message blank.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# The regex skips runs of those, of whitespace and of control characters at C speed; what
# it stops at is visible unless it is a format character (category Cf, checked in Python).
_MAYBE_VISIBLE = re.compile(
    r"[^\s\x00-\x1f\x7f-\x9f\u2800"
    + "".join(rf"\U{first:08x}-\U{last:08x}" for first, last in _DEFAULT_IGNORABLE)
    + "]"
)


def is_blank(text: str) -> bool:
    """True when nothing in `text` would show on screen."""
    return all(unicodedata.category(match.group()) == "Cf" for match in _MAYBE_VISIBLE.finditer(text))


def check_message_content(content: str, *, max_chars: int) -> None:
    """A trainee message must fit and must show something: one made of spaces or
    invisible characters is refused like an empty one, not stored or scored."""
    # The length first: it bounds the blank check's walk over the text.
    if len(content) > max_chars:
        raise ConversationError("message_too_long", f"content is limited to {max_chars} characters.")
    if is_blank(content):
        raise ConversationError(
            "empty_content", "content must not be empty (spaces and invisible characters alone count as empty)."
        )


def without_nul(text: str) -> str:
    """`text` without U+0000. It shows nothing, and PostgreSQL's text columns cannot hold
    it (SQLite's can), so it is dropped on both engines: the same text is stored on each."""
    return text.replace("\x00", "")


# ASCII digits only: str.isdigit() and int() also take "٣" or "３" (and isdigit "³").
_EVENT_CURSOR = re.compile(r"[0-9]{1,19}")


def parse_after(value: str | None) -> int | None:
    """The `after` query parameter of the chat socket: an event_id to resume after."""
    if value is None:
        return None
    if _EVENT_CURSOR.fullmatch(value) is None or int(value) > MAX_SQLITE_INTEGER:
        raise ConversationError(
            "invalid_frame",
            f"The 'after' query parameter must be an event_id: 0 to {MAX_SQLITE_INTEGER} in ASCII digits.",
        )
    return int(value)
