"""Every frame the server sends on the chat socket is built here (docs/protocol.md has
each one; the frames a client sends are web/client_frames.py).

Two kinds:
- direct frames answer the socket they go to at once and carry no event_id:
  `session_start`, `message_ack`, `pong`, and `error` about a frame or the connection;
- events are stored in the events table by whichever process writes them (the web
  process, or the worker for a reply) as an `EventFrame`: its type and fields. The web
  process's tailer sends each stored event with its event_id (`event_text`), so a
  reconnecting client can resume after the last one it saw."""

from __future__ import annotations

from typing import Any, NamedTuple

from shared.db.events import StoredEvent
from shared.db.jsoncol import dumps
from shared.lib.clock import utc_now_iso


def _text(type: str, **fields: Any) -> str:
    return dumps({"type": type, **fields})


def error_frame(code: str, content: str, **fields: Any) -> str:
    """An `error` about a frame or the connection (an error about a reply is an event)."""
    return _text("error", code=code, content=content, timestamp=utc_now_iso(), **fields)


def session_start_frame(session_id: int, last_event_id: int, scenario: dict[str, Any]) -> str:
    return _text(
        "session_start",
        content="Session started successfully",
        timestamp=utc_now_iso(),
        session_id=session_id,
        last_event_id=last_event_id,
        scenario=scenario,
    )


def ack_frame(message_id: int, client_message_id: str | None, duplicate: bool) -> str:
    return _text(
        "message_ack",
        content="Message received",
        message_id=message_id,
        client_message_id=client_message_id,
        duplicate=duplicate,
        timestamp=utc_now_iso(),
    )


def pong_frame() -> str:
    return _text("pong", timestamp=utc_now_iso())


class EventFrame(NamedTuple):
    """An event as it is stored: its frame's type and its other fields (the payload).
    The event_id is added when it is sent."""

    type: str
    payload: dict[str, Any]


def assistant_message_event(
    *, message_id: int, content: str, timestamp: str, reply_to: int | None, tokens: int
) -> EventFrame:
    """A customer line: the reply to trainee message `reply_to`, or the opening line."""
    metadata: dict[str, Any] = {"tokens": tokens, "reply_to": reply_to}
    if reply_to is None:
        metadata["opening"] = True
    return EventFrame(
        "assistant_message",
        {"content": content, "timestamp": timestamp, "message_id": message_id, "metadata": metadata},
    )


class SentText(NamedTuple):
    """What clients have been sent of a reply while it streams: its masked text so far
    and the seq of the next `assistant_delta`."""

    text: str = ""
    next_seq: int = 0


def assistant_delta_event(reply_to: int, sent: SentText, text: str) -> EventFrame | None:
    """The delta that takes clients from `sent` to `text`, the reply's masked text so far:
    the new text or, when `text` no longer extends what was sent (a value recognised, and
    masked, only once it was whole; a re-run after a crash that generated differently),
    `restart` with the whole text. None when there is nothing new (or a re-run is still
    catching up with what an earlier run sent)."""
    if sent.text.startswith(text):
        return None
    payload: dict[str, Any] = {"reply_to": reply_to, "seq": sent.next_seq}
    if text.startswith(sent.text):
        payload["content"] = text[len(sent.text) :]
    else:
        payload.update(content=text, restart=True)
    return EventFrame("assistant_delta", payload)


def typing_event(reply_to: int) -> EventFrame:
    return EventFrame("typing", {"reply_to": reply_to})


def reply_error_event(code: str, content: str, reply_to: int | None) -> EventFrame:
    """An `error` about a reply (failed or expired): stored, so a reconnect replays it."""
    return EventFrame("error", {"code": code, "content": content, "reply_to": reply_to, "timestamp": utc_now_iso()})


def feedback_event(message_id: int, feedback: dict[str, Any]) -> EventFrame:
    """The feedback on trainee message `message_id` (ReplyFeedback.to_json())."""
    return EventFrame("feedback", {"message_id": message_id, **feedback})


def session_complete_event(session_id: int, report: dict[str, Any]) -> EventFrame:
    return EventFrame("session_complete", {"session_id": session_id, "summary": report})


def event_text(event: StoredEvent) -> str:
    """A stored event's frame: its payload with its type and event_id (its number in the
    session), serialised once for every socket it goes to.

    The payload is stored as a JSON object, so the frame is built by splicing text
    rather than parsing and re-serialising it for every socket."""
    body = event.payload_json[1:-1]
    separator = "," if body else ""
    return f'{{"type":"{event.type}","event_id":{event.seq}{separator}{body}}}'
