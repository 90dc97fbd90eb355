"""The events' frames as a client reads them: each stored event sent with its type and
event_id first, then its fields in the order docs/protocol.md shows."""

from __future__ import annotations

import pytest

from shared.conversation import frames
from shared.db.events import StoredEvent
from shared.db.jsoncol import dumps


def _sent(event: frames.EventFrame, seq: int = 4) -> str:
    """The text a socket gets for `event` stored as its session's event number `seq`."""
    return frames.event_text(
        StoredEvent(id=90, session_id=3, type=event.type, payload_json=dumps(event.payload), seq=seq)
    )


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (
            frames.assistant_message_event(message_id=3, content="Fine.", timestamp="T", reply_to=2, tokens=46),
            '{"type":"assistant_message","event_id":4,"content":"Fine.","timestamp":"T","message_id":3,'
            '"metadata":{"tokens":46,"reply_to":2}}',
        ),
        (
            frames.assistant_message_event(message_id=1, content="Hi.", timestamp="T", reply_to=None, tokens=0),
            '{"type":"assistant_message","event_id":4,"content":"Hi.","timestamp":"T","message_id":1,'
            '"metadata":{"tokens":0,"reply_to":null,"opening":true}}',
        ),
        (
            frames.assistant_delta_event(2, frames.SentText(), "Fine. The email "),
            '{"type":"assistant_delta","event_id":4,"reply_to":2,"seq":0,"content":"Fine. The email "}',
        ),
        (
            frames.assistant_delta_event(2, frames.SentText("Fine, Jane", 3), "Fine, [NAME_1]"),
            '{"type":"assistant_delta","event_id":4,"reply_to":2,"seq":3,"content":"Fine, [NAME_1]","restart":true}',
        ),
        (frames.typing_event(2), '{"type":"typing","event_id":4,"reply_to":2}'),
        (
            frames.feedback_event(2, {"score": 70, "matched": ["refunds"]}),
            '{"type":"feedback","event_id":4,"message_id":2,"score":70,"matched":["refunds"]}',
        ),
        (
            frames.session_complete_event(3, {"overall_score": 68}),
            '{"type":"session_complete","event_id":4,"session_id":3,"summary":{"overall_score":68}}',
        ),
    ],
)
def test_each_event_is_sent_with_its_type_and_event_id_first(event: frames.EventFrame, text: str) -> None:
    assert _sent(event) == text


def test_a_reply_error_carries_its_reply_and_a_timestamp_after_the_code_and_text() -> None:
    sent = _sent(frames.reply_error_event("reply_expired", "Too late.", 2), seq=9)
    assert sent.startswith('{"type":"error","event_id":9,"code":"reply_expired","content":"Too late.","reply_to":2,')
    assert '"timestamp":"' in sent


def test_an_event_without_fields_is_still_a_json_object() -> None:
    assert frames.event_text(StoredEvent(1, 1, "typing", "{}", seq=1)) == '{"type":"typing","event_id":1}'
