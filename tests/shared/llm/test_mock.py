"""The scripted mock customer: script following, reactions, streaming, usage and pacing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from shared.llm import mock
from shared.llm.base import ChatTurn, ReplyRequest
from shared.llm.mock import MockProvider, split_into_chunks
from shared.scenarios import Scenario, load_scenario
from shared.scenarios.model import BotMessage, Persona
from tests.support.stack import REPO_ROOT

SCRIPT = (
    BotMessage(content="My parcel never arrived.", expected_keywords=("sorry|apologise", "order number")),
    BotMessage(content="It's order 5521.", expected_keywords=("track|tracking", "today", "courier")),
    BotMessage(content="So when will it get here?", expected_keywords=("tomorrow", "email")),
)
GOOD_REPLIES = (
    "I'm sorry about that. What is your order number?",
    "Thanks, I'm tracking it today with the courier.",
    "It will arrive tomorrow and you'll get an email.",
)


@pytest.fixture(name="scenario")
def _scenario() -> Scenario:
    return Scenario(
        slug="parcel",
        title="Lost parcel",
        description="A parcel went missing.",
        duration_minutes=10,
        bot_messages=SCRIPT,
        persona=Persona(name="Sam", mood="anxious, but polite"),
        folder=Path("."),
    )


@pytest.fixture(name="provider")
def _provider() -> MockProvider:
    return MockProvider()


def request_for(scenario: Scenario, history: list[ChatTurn]) -> ReplyRequest:
    return ReplyRequest(scenario=scenario, history=tuple(history), session_id=1, reply_to=len(history))


def reply_text(provider: MockProvider, scenario: Scenario, history: list[ChatTurn]) -> str:
    return "".join(provider.stream_reply(request_for(scenario, history)))


def after_opening(scenario: Scenario, trainee_says: str) -> list[ChatTurn]:
    return [ChatTurn("assistant", scenario.opening_line), ChatTurn("user", trainee_says)]


# --- what the customer says --------------------------------------------------------------


def test_reply_to_the_first_trainee_message_is_the_second_scripted_line(provider, scenario):
    history = after_opening(scenario, GOOD_REPLIES[0])

    assert reply_text(provider, scenario, history) == SCRIPT[1].content


def test_good_replies_walk_through_the_whole_script(provider, scenario):
    history = [ChatTurn("assistant", scenario.opening_line)]
    for index, good_reply in enumerate(GOOD_REPLIES[:-1], start=1):
        history.append(ChatTurn("user", good_reply))
        reply = reply_text(provider, scenario, history)
        assert reply == SCRIPT[index].content
        history.append(ChatTurn("assistant", reply))


def test_same_request_gives_the_same_reply(provider, scenario):
    history = after_opening(scenario, "hm")

    assert reply_text(provider, scenario, history) == reply_text(MockProvider(), scenario, history)


def test_shipped_scenario_script_is_followed(provider):
    scenario = load_scenario(REPO_ROOT / "scenarios" / "customer-service" / "scenario.yaml")
    history = after_opening(scenario, "I'm sorry, I will help with your account and the charge.")

    assert reply_text(provider, scenario, history) == scenario.bot_messages[1].content


def test_missed_keywords_bring_an_in_character_complaint_before_the_script(provider, scenario):
    reply = reply_text(provider, scenario, after_opening(scenario, "Okay."))

    complaint = reply.removesuffix(SCRIPT[1].content)
    assert reply.endswith(" " + SCRIPT[1].content)
    # The customer asks their question again; the hidden keywords are never spoken.
    assert "My parcel never arrived." in complaint  # no question in it: its last sentence
    assert '"sorry"' not in complaint and "order number" not in complaint.lower()
    assert "anxious" in complaint and "polite" not in complaint


def test_reply_with_most_expected_keywords_gets_no_complaint(provider, scenario):
    # Two of the three keywords for SCRIPT[1]: good enough for the customer to move on.
    history = after_opening(scenario, GOOD_REPLIES[0]) + [
        ChatTurn("assistant", SCRIPT[1].content),
        ChatTurn("user", "I am tracking it today."),
    ]

    assert reply_text(provider, scenario, history) == SCRIPT[2].content


def test_a_keyword_alternative_counts_like_the_first(provider, scenario):
    with_alternative = after_opening(scenario, "I apologise. Your order number, please?")

    assert reply_text(provider, scenario, with_alternative) == SCRIPT[1].content


def test_complaint_wording_changes_from_turn_to_turn(provider, scenario):
    first = reply_text(provider, scenario, after_opening(scenario, "Okay."))
    second_history = after_opening(scenario, GOOD_REPLIES[0]) + [
        ChatTurn("assistant", SCRIPT[1].content),
        ChatTurn("user", "Okay."),
    ]
    second = reply_text(provider, scenario, second_history)

    first_complaint = first.removesuffix(SCRIPT[1].content)
    second_complaint = second.removesuffix(SCRIPT[2].content)
    assert first_complaint.split('"')[0] != second_complaint.split('"')[0]


def test_customer_wraps_up_once_the_script_has_run_out(provider, scenario):
    history = [ChatTurn("assistant", scenario.opening_line)]
    for good_reply in GOOD_REPLIES:
        history.append(ChatTurn("user", good_reply))
        history.append(ChatTurn("assistant", reply_text(provider, scenario, history)))

    closing = history[-1].content
    assert closing not in {message.content for message in SCRIPT}
    assert "thank" in closing.lower()
    history.append(ChatTurn("user", "Anything else?"))
    assert reply_text(provider, scenario, history) not in {message.content for message in SCRIPT}


def test_last_scripted_turn_can_still_bring_a_complaint_before_the_wrap_up(provider, scenario):
    history = [ChatTurn("assistant", scenario.opening_line)]
    for good_reply in GOOD_REPLIES[:-1]:
        history.append(ChatTurn("user", good_reply))
        history.append(ChatTurn("assistant", reply_text(provider, scenario, history)))
    history.append(ChatTurn("user", "Soon."))

    reply = reply_text(provider, scenario, history)

    assert "So when will it get here?" in reply and "thank" in reply.lower()
    assert '"tomorrow"' not in reply and '"email"' not in reply


def test_customer_without_persona_still_complains_in_a_neutral_voice(provider, scenario):
    anonymous = scenario.model_copy(update={"persona": None})

    reply = reply_text(provider, anonymous, after_opening(anonymous, "Okay."))

    assert mock.DEFAULT_MOOD in reply


def test_empty_history_gets_the_opening_line(provider, scenario):
    assert reply_text(provider, scenario, []) == SCRIPT[0].content


# --- streaming and usage -----------------------------------------------------------------


@pytest.mark.parametrize("chunk_chars", [1, 5, 12, 40, 10_000])
def test_chunks_join_back_into_the_exact_reply(scenario, chunk_chars):
    provider = MockProvider(chunk_chars=chunk_chars)
    history = after_opening(scenario, "Okay.")

    chunks = list(provider.stream_reply(request_for(scenario, history)))

    assert "".join(chunks) == reply_text(MockProvider(), scenario, history)
    assert all(chunks)


def test_chunks_break_between_words_near_the_chunk_size():
    text = "The quick brown fox jumps over the lazy dog again and again."

    chunks = split_into_chunks(text, 12)

    assert "".join(chunks) == text
    assert all(chunk.endswith(" ") for chunk in chunks[:-1])
    assert all(len(chunk) <= 12 for chunk in chunks)


def test_very_long_word_is_cut_to_keep_chunks_small():
    text = "see https://example.com/" + "a" * 100 + " now"

    chunks = split_into_chunks(text, 10)

    assert "".join(chunks) == text
    assert max(len(chunk) for chunk in chunks) <= 20


@pytest.mark.parametrize("text", ["", "   ", "  leading space", "trailing  "])
def test_chunking_keeps_odd_whitespace_exactly(text):
    assert "".join(split_into_chunks(text, 4)) == text


def test_usage_estimates_tokens_for_prompt_and_reply(provider, scenario):
    history = after_opening(scenario, "Okay.")

    stream = provider.stream_reply(request_for(scenario, history))
    reply = "".join(stream)

    assert stream.usage.model == "mock"
    assert stream.usage.completion_tokens == math.ceil(len(reply) / 4)
    history_chars = sum(len(turn.content) for turn in history)
    assert stream.usage.prompt_tokens >= math.ceil(history_chars / 4)


def test_prompt_estimate_grows_with_the_history(provider, scenario):
    short = provider.stream_reply(request_for(scenario, after_opening(scenario, "Okay.")))
    long = provider.stream_reply(request_for(scenario, after_opening(scenario, "Okay. " * 50)))

    assert long.usage.prompt_tokens > short.usage.prompt_tokens


# --- pacing ------------------------------------------------------------------------------


@pytest.fixture(name="sleeps")
def _sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(mock.time, "sleep", recorded.append)
    return recorded


def test_no_pacing_means_no_sleeping(sleeps, scenario):
    list(MockProvider().stream_reply(request_for(scenario, after_opening(scenario, "Okay."))))

    assert sleeps == []


def test_pacing_waits_before_the_first_chunk_and_between_chunks(sleeps, scenario):
    provider = MockProvider(first_chunk_ms=250, chunks_per_second=20, chunk_chars=8)

    chunks = list(provider.stream_reply(request_for(scenario, after_opening(scenario, "Okay."))))

    assert sleeps == [0.25] + [0.05] * (len(chunks) - 1)


def test_sleeping_happens_while_iterating_not_when_the_stream_is_created(sleeps, scenario):
    stream = MockProvider(first_chunk_ms=100).stream_reply(request_for(scenario, after_opening(scenario, "Okay.")))
    assert sleeps == []

    next(iter(stream))

    assert sleeps == [0.1]


@pytest.mark.parametrize("arguments", [{"first_chunk_ms": -1}, {"chunks_per_second": -0.5}, {"chunk_chars": 0}])
def test_invalid_pacing_settings_are_refused(arguments):
    with pytest.raises(ValueError):
        MockProvider(**arguments)


def test_provider_is_named_mock():
    assert MockProvider.name == "mock"
