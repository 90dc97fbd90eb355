"""Delta batching, what each delta carries, and the safe prefix that keeps half-arrived
personal data off the wire."""

from __future__ import annotations

import pytest

from shared.conversation.frames import SentText, assistant_delta_event
from worker.streaming import DeltaBatcher, safe_prefix


@pytest.mark.parametrize(
    ("text", "sendable"),
    [
        ("Sure, my card is 4111 1111 ", "Sure, my card is "),
        ("call me on +44 20 7946 ", "call me on "),
        ("I live at 221B Baker ", "I live at "),
        ("my name is Jane ", "my name is "),
        ("the email is jane.roe@exa", "the email is "),
        ("okay thanks for the help and", "okay thanks for the help "),
        ("unfinishedword", ""),
    ],
)
def test_safe_prefix_holds_back_what_could_be_the_start_of_a_value(text, sendable):
    assert safe_prefix(text) == sendable


def _flush(batcher: DeltaBatcher, mask=str, *, final: bool = False) -> dict | None:  # noqa: ANN001
    """What worker/streaming.py (or, for the last delta, the reply's transaction) does
    with a due flush, without the database: the delta's payload, or None."""
    text = mask(batcher.generated if final else batcher.sendable())
    event = assistant_delta_event(7, batcher.sent, text)
    batcher.flushed(SentText(text, batcher.sent.next_seq + 1) if event is not None else None)
    return event.payload if event is not None else None


def test_deltas_add_up_to_the_masked_text_and_restart_when_masking_changes_the_past():
    batcher = DeltaBatcher(batch_seconds=0.0)
    batcher.add("hello there friend ")
    assert _flush(batcher) == {"reply_to": 7, "seq": 0, "content": "hello there friend "}
    batcher.add("and more")
    # Masking now rewrites text that was already sent: the delta restarts the reply.
    second = _flush(batcher, lambda text: text.replace("friend", "[NAME_1]"), final=True)
    assert second == {"reply_to": 7, "seq": 1, "content": "hello there [NAME_1] and more", "restart": True}


def test_a_fast_reply_is_not_flushed_before_its_batch_interval():
    batcher = DeltaBatcher(batch_seconds=60.0)
    assert batcher.add("whole reply at once") is False


def test_a_rerun_catching_up_with_what_was_sent_emits_nothing_until_it_passes_it():
    batcher = DeltaBatcher(batch_seconds=0.0, sent=SentText("one two three ", 3))
    batcher.add("one two ")
    assert _flush(batcher) is None
    batcher.add("three four five")
    assert _flush(batcher, final=True) == {"reply_to": 7, "seq": 3, "content": "four five"}


@pytest.mark.parametrize(
    "first_chunk, sent",
    [("Okay, I'm ", "Okay, "), ("Fine. The ", "Fine. "), ("Hi Jane", "Hi "), ("I'm Jane ", "I'm ")],
)
def test_the_replys_first_word_goes_out_with_the_first_chunk_but_a_name_after_a_cue_waits(first_chunk, sent):
    assert safe_prefix(first_chunk) == sent


def test_a_flush_that_had_nothing_to_send_lets_the_next_chunk_flush_at_once():
    batcher = DeltaBatcher(batch_seconds=60)
    batcher._last_flush -= 61  # the model's first chunk came after one interval
    assert batcher.add("Okay, I")
    assert _flush(batcher)["content"] == "Okay, "
    assert not batcher.add("'m ")  # within the interval of the delta just sent
    batcher._last_flush -= 61
    assert batcher.add("Jane")
    assert _flush(batcher) is None  # "I'm Jane" could be a name
    assert batcher.add(" and")  # nothing went out, so no interval to wait


def test_a_nul_from_the_model_is_dropped_before_it_reaches_a_delta_or_the_reply():
    batcher = DeltaBatcher(batch_seconds=0.0)
    batcher.add("hel\x00lo there ")
    assert _flush(batcher)["content"] == "hello there "
    batcher.add("\x00friend")
    assert _flush(batcher, final=True)["content"] == "friend"
    assert batcher.generated == "hello there friend"
