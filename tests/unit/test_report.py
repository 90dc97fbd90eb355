import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.scenarios.model import BotMessage, Completion, RubricCriterion, Scenario
from shared.training.report import TraineeTurn, build_report, trim_quote

STARTED = "2024-05-01T09:00:00Z"
ENDED = "2024-05-01T09:04:30Z"


@pytest.fixture(name="scenario")
def _scenario():
    return Scenario(
        slug="broken-order",
        title="Broken order",
        description="A customer whose order arrived broken.",
        duration_minutes=10,
        bot_messages=(
            BotMessage(
                content="My order arrived broken and I'm furious!",
                expected_keywords=("sorry|apologize", "order number"),
            ),
            BotMessage(
                content="It's ORD-1234. What are you going to do about it?",
                expected_keywords=("refund|replacement",),
            ),
            BotMessage(content="Fine. How long will that take?", expected_keywords=("days",)),
        ),
        completion=Completion(min_exchanges=2, required_keywords=("refund",)),
        rubric=(
            RubricCriterion(
                name="Empathy",
                description="Acknowledge how the customer feels",
                weight=2,
                keywords=("understand",),
                phrases=("so sorry",),
            ),
            RubricCriterion(
                name="Professionalism",
                description="Stay polite",
                weight=1,
                keywords=("please",),
                forbidden=("calm down",),
            ),
        ),
        folder=Path("."),
    )


@pytest.fixture(name="rough_turns")
def _rough_turns():
    """Two replies: a good first one, a rude second one that misses the point; the third
    customer line is never answered."""
    return [
        TraineeTurn(
            11, "I'm so sorry to hear that. Could you give me your order number, please?", "2024-05-01T09:01:00Z", 0
        ),
        TraineeTurn(13, "Calm down, I will look into it.", "2024-05-01T09:03:00Z", 1),
    ]


@pytest.fixture(name="good_turns")
def _good_turns():
    return [
        TraineeTurn(
            21, "I'm so sorry, I understand. Could you share the order number, please?", "2024-05-01T09:01:00Z", 0
        ),
        TraineeTurn(23, "Thanks. I'll issue a full refund right away.", "2024-05-01T09:02:00Z", 1),
        TraineeTurn(25, "It usually takes 3 days.", "2024-05-01T09:03:00Z", 2),
    ]


@pytest.fixture(name="rough_report")
def _rough_report(scenario, rough_turns):
    return build_report(scenario, rough_turns, started_at=STARTED, ended_at=ENDED, ended_by="trainee_ended")


def test_overall_score_pools_every_scripted_line_and_required_keyword(rough_report):
    # Keywords: 2 + 0 + 0 (unanswered) of 2 + 1 + 1, plus 0 of 1 required = 2/5.
    # Rubric: Empathy 1/2 (weight 2), Professionalism 0 (forbidden phrase) = 1/3.
    # 100 * (0.6 * 0.4 + 0.4 * 1/3) = 37.3
    assert rough_report["overall_score"] == 37


def test_report_facts(rough_report):
    assert rough_report["scenario"] == {"slug": "broken-order", "title": "Broken order"}
    assert rough_report["exchanges"] == 2
    assert rough_report["duration_seconds"] == 270
    assert rough_report["ended_by"] == "trainee_ended"
    assert rough_report["required_keywords"] == {"met": [], "missed": ["refund"]}


def test_per_turn_scores_each_reply_against_the_line_it_answers(rough_report):
    assert rough_report["per_turn"] == [
        {"message_id": 11, "score": 87, "matched": ["sorry|apologize", "order number"], "missed": []},
        {"message_id": 13, "score": 0, "matched": [], "missed": ["refund|replacement"]},
    ]


def test_criteria_quote_the_sentence_with_the_evidence(rough_report):
    assert rough_report["criteria"] == [
        {
            "name": "Empathy",
            "weight": 2.0,
            "score": 50,
            "evidence": [{"message_id": 11, "quote": "I'm so sorry to hear that."}],
        },
        {
            "name": "Professionalism",
            "weight": 1.0,
            "score": 0,
            "evidence": [{"message_id": 11, "quote": "Could you give me your order number, please?"}],
        },
    ]


def test_improvements_quote_the_trainees_own_lines(rough_report):
    assert rough_report["improvements"] == [
        {
            "text": "Avoid saying “calm down”; it counts against Professionalism.",
            "evidence": [{"message_id": 13, "quote": "Calm down, I will look into it."}],
        },
        {
            "text": "When the customer said “It's ORD-1234. What are you going to do about it?”, "
            "your reply did not mention “refund” (or “replacement”).",
            "evidence": [{"message_id": 13, "quote": "Calm down, I will look into it."}],
        },
        {"text": "1 of 3 scripted customer lines was not answered; 1 expected point counted as missed.", "evidence": []},
        {"text": "Never mentioned the required points: “refund”.", "evidence": []},
    ]


def test_strengths_quote_the_lines_that_covered_the_expected_points(rough_report):
    assert rough_report["strengths"] == [
        {
            "text": "Covered every expected point in 1 of 3 scripted customer lines.",
            "evidence": [
                {"message_id": 11, "quote": "I'm so sorry to hear that. Could you give me your order number, please?"}
            ],
        }
    ]


def test_a_complete_conversation_scores_100_with_strengths_and_no_improvements(scenario, good_turns):
    report = build_report(scenario, good_turns, started_at=STARTED, ended_at=ENDED, ended_by="script_complete")

    assert report["overall_score"] == 100
    assert report["improvements"] == []
    assert [strength["text"] for strength in report["strengths"]] == [
        "Empathy (100/100): you said “understand”, “so sorry”.",
        "Professionalism (100/100): you said “please”.",
        "Covered every expected point in 3 of 3 scripted customer lines.",
        "Covered the required points: “refund”.",
    ]
    assert report["strengths"][3]["evidence"] == [{"message_id": 23, "quote": "I'll issue a full refund right away."}]


def test_a_session_without_replies_scores_zero_and_lists_every_line_unanswered(scenario):
    report = build_report(scenario, [], started_at=STARTED, ended_at=STARTED, ended_by="time_up")

    assert report["overall_score"] == 0
    assert report["exchanges"] == 0
    assert report["duration_seconds"] == 0
    assert report["criteria"][0] == {"name": "Empathy", "weight": 2.0, "score": 0, "evidence": []}
    assert report["improvements"][0]["text"] == (
        "3 of 3 scripted customer lines were not answered; 4 expected points counted as missed."
    )


def test_replies_after_the_script_count_for_the_rubric_and_required_keywords(scenario, good_turns):
    extra = TraineeTurn(27, "Anything else? Please let me know.", "2024-05-01T09:04:00Z", 3)

    report = build_report(scenario, [*good_turns, extra], started_at=STARTED, ended_at=ENDED, ended_by="script_complete")

    assert report["per_turn"][-1] == {"message_id": 27, "score": 33, "matched": [], "missed": []}
    assert report["overall_score"] == 100


def test_long_lines_are_quoted_trimmed_with_an_ellipsis(scenario):
    long_line = "I am so sorry. " + "This sentence keeps going and going without a break " * 5 + "please."
    turn = TraineeTurn(31, long_line, "2024-05-01T09:01:00Z", 0)

    report = build_report(scenario, [turn], started_at=STARTED, ended_at=ENDED, ended_by="trainee_ended")
    quote = report["improvements"][0]["evidence"][0]["quote"]

    assert len(quote) <= 160
    assert quote.endswith("going…")
    assert long_line.startswith(quote[:-1])


def test_trim_quote_flattens_whitespace_and_keeps_short_text_whole():
    assert trim_quote("  one\n two   three ") == "one two three"
    assert trim_quote("x" * 200) == "x" * 159 + "…"


def test_report_is_json_serialisable(rough_report):
    assert json.loads(json.dumps(rough_report)) == rough_report


GOOD_SAYINGS = ("sorry", "apologize", "order number", "refund", "replacement", "days", "understand", "so sorry", "please")
FILLER = ("hello", "we", "will", "check", "it", ".", "calm down")


# The scenario fixture is an immutable model, so sharing it across examples is safe.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    texts=st.lists(st.lists(st.sampled_from(GOOD_SAYINGS + FILLER), max_size=8).map(" ".join), max_size=4),
    saying=st.sampled_from(GOOD_SAYINGS),
)
def test_more_good_content_never_lowers_the_overall_score(scenario, data, texts, saying):
    turns = [TraineeTurn(i, text, "2024-05-01T09:01:00Z", i) for i, text in enumerate(texts)]
    before = build_report(scenario, turns, started_at=STARTED, ended_at=ENDED, ended_by="trainee_ended")

    if turns and data.draw(st.booleans()):
        at = data.draw(st.integers(min_value=0, max_value=len(turns) - 1))
        turns[at] = TraineeTurn(at, f"{turns[at].content} {saying}", turns[at].timestamp, at)
    else:
        turns.append(TraineeTurn(len(turns), saying, "2024-05-01T09:02:00Z", len(turns)))
    after = build_report(scenario, turns, started_at=STARTED, ended_at=ENDED, ended_by="trainee_ended")

    assert after["overall_score"] >= before["overall_score"]
    assert 0 <= after["overall_score"] <= 100
