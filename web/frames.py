"""WebSocket frames: the client's frames as models, the server's direct frames as
functions. Events (assistant_message, deltas, feedback...) are built by the worker and
stored; see docs/protocol.md for every frame."""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from shared.clock import utc_now_iso
from shared.db.schema import MAX_SQLITE_INTEGER
from shared.db.jsoncol import dumps

CLIENT_TYPES = ("session_start", "user_message", "ping", "end_session", "retry")


class FrameError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class SessionStartMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    last_event_id: StrictInt | None = Field(default=None, ge=0, le=MAX_SQLITE_INTEGER)


class UserMessageMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    client_message_id: StrictStr | None = Field(default=None, min_length=1, max_length=100)


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
    """Parse and check the envelope of a client frame; raise FrameError with a code."""
    if not isinstance(raw, str):  # bytes, or None for an empty binary frame (Quart's receive)
        raise FrameError("invalid_frame", "Frames must be JSON text, not binary.")
    if len(raw) > max_frame_bytes:  # characters >= bytes/4; checked exactly below
        if len(raw.encode()) > max_frame_bytes:
            raise FrameError("frame_too_large", f"Frames are limited to {max_frame_bytes} bytes.")
    try:
        # orjson, not the standard library: it refuses nesting deeper than 1024 and lone
        # surrogate escapes ("\ud800", which no text column can store) with a ValueError,
        # where json.loads recursed into a RecursionError or let the surrogate through.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise FrameError("invalid_json", f"The frame is not valid JSON: {error.msg}.") from None
    if not isinstance(data, dict):
        raise FrameError("invalid_frame", "The frame must be a JSON object.")
    try:
        frame = ClientFrame.model_validate(data)
    except ValidationError as error:
        raise FrameError("invalid_frame", _describe(error)) from None
    if frame.type not in CLIENT_TYPES:
        raise FrameError("unknown_type", f"Unknown frame type {frame.type[:40]!r}; expected one of {', '.join(CLIENT_TYPES)}.")
    return frame


def parse_metadata(model: type[BaseModel], metadata: dict[str, Any]) -> Any:
    try:
        return model.model_validate(metadata)
    except ValidationError as error:
        raise FrameError("invalid_frame", _describe(error, "metadata.")) from None


# ASCII digits only: str.isdigit() and int() also take "٣" or "３" (and isdigit "³").
_EVENT_CURSOR = re.compile(r"[0-9]{1,19}")


def parse_after(value: str | None) -> int | None:
    """The `after` query parameter of the chat socket: an event_id to resume after."""
    if value is None:
        return None
    if _EVENT_CURSOR.fullmatch(value) is None or int(value) > MAX_SQLITE_INTEGER:
        raise FrameError(
            "invalid_frame", f"The 'after' query parameter must be an event_id: 0 to {MAX_SQLITE_INTEGER} in ASCII digits."
        )
    return int(value)


def frame_text(type: str, **fields: Any) -> str:
    return dumps({"type": type, **fields})


def error_frame(code: str, content: str, **fields: Any) -> str:
    return frame_text("error", code=code, content=content, timestamp=utc_now_iso(), **fields)


def session_start_frame(session_id: int, last_event_id: int, scenario: dict[str, Any]) -> str:
    return frame_text(
        "session_start",
        content="Session started successfully",
        timestamp=utc_now_iso(),
        session_id=session_id,
        last_event_id=last_event_id,
        scenario=scenario,
    )


def ack_frame(message_id: int, client_message_id: str | None, duplicate: bool) -> str:
    return frame_text(
        "message_ack",
        message_id=message_id,
        client_message_id=client_message_id,
        duplicate=duplicate,
        timestamp=utc_now_iso(),
    )


def pong_frame() -> str:
    return frame_text("pong", timestamp=utc_now_iso())


FrameType = Literal["session_start", "user_message", "ping", "end_session", "retry"]
