from pathlib import Path

import pytest

from shared.scenarios.model import BotMessage, Completion, Scenario
from shared.training.completion import completion_reason, script_finished


@pytest.fixture(name="scenario")
def _scenario():
    return Scenario(
        slug="broken-order",
        title="Broken order",
        description="A customer whose order arrived broken.",
        duration_minutes=10,
        bot_messages=(BotMessage(content="It arrived broken."), BotMessage(content="What now?")),
        completion=Completion(min_exchanges=3),
        folder=Path("."),
    )


def test_script_is_finished_once_the_trainee_answers_the_last_customer_line(scenario):
    assert script_finished(scenario, assistant_turns=2, trainee_turns=2)


def test_script_is_not_finished_while_the_last_customer_line_is_unanswered(scenario):
    assert not script_finished(scenario, assistant_turns=2, trainee_turns=1)


def test_script_is_not_finished_before_the_customer_has_said_the_last_line(scenario):
    # The trainee sent two messages quickly; the customer's second line is still to come.
    assert not script_finished(scenario, assistant_turns=1, trainee_turns=2)


def test_script_stays_finished_after_extra_turns(scenario):
    assert script_finished(scenario, assistant_turns=4, trainee_turns=4)


def test_an_empty_script_is_finished_from_the_start(scenario):
    empty = scenario.model_copy(update={"bot_messages": ()})

    assert script_finished(empty, assistant_turns=0, trainee_turns=0)


def test_finished_script_with_enough_exchanges_is_script_complete(scenario):
    assert completion_reason(scenario, exchanges=3, elapsed_seconds=60, script_finished=True) == "script_complete"


def test_finished_script_with_too_few_exchanges_keeps_going(scenario):
    assert completion_reason(scenario, exchanges=2, elapsed_seconds=60, script_finished=True) is None


def test_enough_exchanges_without_a_finished_script_keeps_going(scenario):
    assert completion_reason(scenario, exchanges=5, elapsed_seconds=60, script_finished=False) is None


def test_time_is_up_exactly_at_the_duration(scenario):
    assert completion_reason(scenario, exchanges=1, elapsed_seconds=600, script_finished=False) == "time_up"


def test_time_is_not_up_just_before_the_duration(scenario):
    assert completion_reason(scenario, exchanges=1, elapsed_seconds=599.9, script_finished=False) is None


def test_time_up_with_a_finished_script_but_too_few_exchanges_is_time_up(scenario):
    assert completion_reason(scenario, exchanges=2, elapsed_seconds=601, script_finished=True) == "time_up"


def test_a_complete_script_wins_over_the_clock(scenario):
    assert completion_reason(scenario, exchanges=3, elapsed_seconds=700, script_finished=True) == "script_complete"
