"""A value split over two consecutive trainee messages of one session: caught when the
second arrives, on a real SQLite file through the trainee message path, and the search
across the break on its own."""

from __future__ import annotations

import unicodedata

from shared.conversation.writes import accept_trainee_message, write_customer_message, write_opening_line
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.db.scenario_rows import select_scenario_ids
from shared.masking.placeholders import PLACEHOLDER_RE
from shared.masking.policy import MaskingPolicy
from shared.masking.split_values import may_be_split
from worker.runtime import WorkerRuntime

MASKING = MaskingPolicy(enabled=True, secret=b"split-secret")


def _start(runtime: WorkerRuntime) -> int:
    with runtime.write_engine.begin() as conn:
        scenario_id = next(iter(select_scenario_ids(conn).values()))
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        write_opening_line(conn, session_id=session_id, content="I was charged twice.")
    return session_id


def _say(runtime: WorkerRuntime, session_id: int, content: str) -> int:
    with runtime.write_engine.begin() as conn:
        found = MASKING.find(content)
        accepted = accept_trainee_message(
            conn,
            session_id=session_id,
            content=content,
            client_message_id=None,
            masking=MASKING,
            reply_expiry_seconds=60,
            found=found,
        )
    return accepted.message_id


def _stored(runtime: WorkerRuntime, message_id: int) -> dict:
    with runtime.engine.connect() as conn:
        return message_rows.select_message(conn, message_id)


def _digits_outside_placeholders(text: str) -> str:
    outside = PLACEHOLDER_RE.sub(" ", text)
    return "".join(ch for ch in outside if unicodedata.digit(ch, None) is not None)


def test_a_card_number_split_over_two_messages_is_masked_in_both(runtime: WorkerRuntime) -> None:
    session_id = _start(runtime)
    first = _say(runtime, session_id, "my card is 4111 1111")
    second = _say(runtime, session_id, "1111 1111 thanks")
    first_row, second_row = _stored(runtime, first), _stored(runtime, second)
    assert second_row["content"] == "[CARD_1] thanks"
    assert first_row["content"] == "my card is [CARD_1]"
    assert [f["type"] for f in first_row["metadata"]["masking"]] == ["CARD"]
    assert [f["type"] for f in second_row["metadata"]["masking"]] == ["CARD"]


def test_an_email_split_at_the_at_sign_is_masked_in_both(runtime: WorkerRuntime) -> None:
    session_id = _start(runtime)
    first = _say(runtime, session_id, "write to jane.roe")
    second = _say(runtime, session_id, "@example.com please")
    assert _stored(runtime, second)["content"] == "[EMAIL_1] please"
    assert _stored(runtime, first)["content"] == "write to [EMAIL_1]"


def test_a_split_value_in_another_digit_form_leaves_no_digit_behind(runtime: WorkerRuntime) -> None:
    session_id = _start(runtime)
    first = _say(runtime, session_id, "my number is +44\u00a020\u00a0")
    second = _say(runtime, session_id, "٧٩٤٦\u2013٠٩٥٨ call me")
    for message_id in (first, second):
        content = _stored(runtime, message_id)["content"]
        assert "[PHONE_1]" in content and _digits_outside_placeholders(content) == "", content


def test_two_unrelated_messages_with_numbers_are_left_alone(runtime: WorkerRuntime) -> None:
    session_id = _start(runtime)
    first = _say(runtime, session_id, "order 48213 arrived broken")
    second = _say(runtime, session_id, "12 days ago, and I paid $45")
    assert _stored(runtime, first)["content"] == "order 48213 arrived broken"
    assert _stored(runtime, second)["content"] == "12 days ago, and I paid $45"


def test_a_card_given_in_pieces_over_two_messages_is_masked_in_both(runtime: WorkerRuntime) -> None:
    # Text stands between the pieces, so joining the two messages' edges finds no card.
    session_id = _start(runtime)
    first = _say(runtime, session_id, "it starts with 4111 1111, hold on, I'll find the rest")
    second = _say(runtime, session_id, "and it ends with 1111 1111")
    first_row, second_row = _stored(runtime, first), _stored(runtime, second)
    assert first_row["content"] == "it starts with [CARD_1], hold on, I'll find the rest"
    assert second_row["content"] == "and it ends with [CARD_1]"
    assert [f["type"] for f in first_row["metadata"]["masking"]] == ["CARD"]


def test_a_card_given_in_pieces_after_the_customer_answered_is_masked_in_both(runtime: WorkerRuntime) -> None:
    session_id = _start(runtime)
    first = _say(runtime, session_id, "the first eight are 4111 1111")
    with runtime.write_engine.begin() as conn:
        write_customer_message(conn, session_id=session_id, content="Go on.", reply_to=first)
    second = _say(runtime, session_id, "the last eight 1111 1111")
    assert _stored(runtime, first)["content"] == "the first eight are [CARD_1]"
    assert _stored(runtime, second)["content"] == "the last eight [CARD_1]"


def test_numbers_in_two_messages_that_make_no_card_are_left_alone(runtime: WorkerRuntime) -> None:
    session_id = _start(runtime)
    first = _say(runtime, session_id, "the first order was 4111 1111")
    second = _say(runtime, session_id, "and the last was 1111 1112")  # not Luhn-valid together
    third = _say(runtime, session_id, "tracking says 1111 1111")  # no card, no word of position
    assert _stored(runtime, first)["content"] == "the first order was 4111 1111"
    assert _stored(runtime, second)["content"] == "and the last was 1111 1112"
    assert _stored(runtime, third)["content"] == "tracking says 1111 1111"


# ---- The search across the break, without a database


def _two_messages(first: str, second: str) -> tuple[str, str]:
    """What is stored of `first` and `second`, sent one after the other."""
    session_data: dict = {}
    stored_first, _ = MASKING.apply(first, session_data)
    masked = MASKING.apply_after(stored_first, second, session_data)
    return masked.previous_text or stored_first, masked.text


def test_a_label_in_one_message_and_its_value_in_the_next_is_masked() -> None:
    assert _two_messages("my SSN is", "536 22 1234") == ("my SSN is", "[SSN_1]")


def test_the_rest_of_a_number_whose_first_part_was_masked_alone_gets_its_placeholder() -> None:
    # "+49 30 1234" is a possible German number by itself.
    assert _two_messages("call +49 30 1234", "5678 please") == ("call [PHONE_1]", "[PHONE_1] please")


def test_the_groups_left_beside_a_value_masked_inside_a_longer_one_are_masked_too() -> None:
    # "0020 9896 00" is an Egyptian number inside the first part of a French IBAN.
    first, second = _two_messages("IBAN FR03 0020 9896 00", "90 6123 4567 890 thanks")
    assert not any(ch.isdigit() for ch in PLACEHOLDER_RE.sub("", first + second)), (first, second)


def test_an_ordinary_message_after_one_that_ends_in_a_value_is_left_alone() -> None:
    assert _two_messages("call me on +44 20 7946 0958", "thanks, and the refund?") == (
        "call me on [PHONE_1]",
        "thanks, and the refund?",
    )


def test_two_messages_without_digits_or_at_signs_at_the_break_skip_the_search() -> None:
    assert not may_be_split("I ordered a blender last week", "It arrived broken, can you help?")
    assert may_be_split("my card is 4111 1111", "1111 1111")
    assert may_be_split("write to jane.roe@exam", "ple.com")
    assert may_be_split("write to jane.roe", "@example.com")
