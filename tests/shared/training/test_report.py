"""The end-of-session report: line scores from the judge, criteria that quote the lines that
earned them, strengths and improvements in the rubric's words."""

import json
from pathlib import Path

import pytest

from shared.scenarios.model import BotMessage, Completion, Pitfall, Point, RubricCriterion, Scenario
from shared.training.judge import RUDE_CAP, judge_reply
from shared.training.report import TraineeTurn, build_report

STARTED = "2024-05-01T09:00:00Z"
ENDED = "2024-05-01T09:04:30Z"


def point(criterion: str, label: str, pattern: str, coach: str, praise: str) -> Point:
    return Point(criterion=criterion, label=label, says=(pattern,), coach=coach, praise=praise)


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
                points=(
                    point(
                        "Empathy",
                        "apology",
                        r"\b(sorry|apolog\w*)\b",
                        "Say sorry for the broken order.",
                        "You apologised.",
                    ),
                    point(
                        "Next steps",
                        "order number",
                        r"\border number\b",
                        "Ask for the order number.",
                        "You asked for the order number.",
                    ),
                ),
            ),
            BotMessage(
                content="It's ORD-1234. What are you going to do about it?",
                points=(
                    point(
                        "Next steps",
                        "replacement",
                        r"\b(replac\w*|refund\w*)\b",
                        "Offer a replacement or a refund.",
                        "You offered a replacement.",
                    ),
                ),
            ),
            BotMessage(
                content="Fine. How long will that take?",
                points=(
                    point(
                        "Next steps",
                        "timeline",
                        r"\b\d+ (working |business )?days\b",
                        "Say how many days it takes.",
                        "You gave the timeline.",
                    ),
                ),
            ),
        ),
        completion=Completion(min_exchanges=2, required_keywords=("refund|replacement",)),
        rubric=(
            RubricCriterion(name="Empathy", weight=2),
            RubricCriterion(name="Next steps", weight=1),
            RubricCriterion(name="Professionalism", weight=1, forbidden=("calm down",)),
        ),
        pitfalls=(
            Pitfall(
                criterion="Next steps",
                label="no returns",
                says=(r"\bno returns\b",),
                coach="Broken orders can always be returned.",
            ),
        ),
        folder=Path("."),
    )


def turns_of(*texts_and_lines):
    return [
        TraineeTurn(10 + i, text, f"2024-05-01T09:0{i + 1}:00Z", line) for i, (text, line) in enumerate(texts_and_lines)
    ]


def report_of(scenario, turns, ended_by="trainee_ended"):
    return build_report(scenario, turns, started_at=STARTED, ended_at=ENDED, ended_by=ended_by)


def test_a_complete_good_conversation_scores_100_and_quotes_its_lines(scenario):
    report = report_of(
        scenario,
        turns_of(
            ("I'm so sorry it arrived broken. Could you give me your order number?", 0),
            ("Thanks. I'll send you a replacement today.", 1),
            ("It takes 3 working days to reach you.", 2),
        ),
        "script_complete",
    )
    assert report["overall_score"] == 100
    assert report["improvements"] == []
    assert report["criteria"][0] == {
        "name": "Empathy",
        "weight": 2.0,
        "score": 100,
        "evidence": [{"message_id": 10, "quote": "I'm so sorry it arrived broken."}],
    }
    assert [e["message_id"] for e in report["criteria"][1]["evidence"]] == [10, 11, 12]
    assert {s["text"] for s in report["strengths"]} >= {
        "You apologised.",
        "You offered a replacement.",
        "You gave the timeline.",
    }
    assert report["required_keywords"] == {"met": ["refund"], "missed": []}  # no `a|b` syntax shown
    # Professionalism had nothing to judge on any line.
    assert report["criteria"][2]["score"] is None


def test_overall_is_the_mean_of_line_scores_and_unanswered_lines_count_zero(scenario):
    turns = turns_of(("I'm so sorry. What's the order number?", 0), ("I'll send a replacement.", 1))
    report = report_of(scenario, turns)
    line_scores = [judge_reply(scenario, t.customer_turn_index, t.content).score for t in turns] + [0]
    assert report["overall_score"] == round(sum(line_scores) / 3)
    assert report["improvements"][-1]["text"] == "1 of 3 customer lines was not answered; each counts as 0."


def test_a_rude_second_reply_to_a_line_caps_that_line(scenario):
    good = ("I'm so sorry. What's the order number?", 0)
    alone = report_of(scenario, turns_of(good))
    with_rude = report_of(scenario, turns_of(good, ("Calm down, I'm on it.", 0)))
    assert with_rude["overall_score"] < alone["overall_score"]
    assert with_rude["per_turn"][1]["score"] <= RUDE_CAP
    pitfall = next(i for i in with_rude["improvements"] if i["criterion"] == "Professionalism")
    assert pitfall["evidence"] == [{"message_id": 11, "quote": "Calm down, I'm on it."}]


def test_improvements_coach_the_weak_lines_in_the_rubrics_words(scenario):
    report = report_of(scenario, turns_of(("Hello, we will look at it.", 0), ("We do no returns, sorry.", 1)))
    texts = [i["text"] for i in report["improvements"]]
    assert texts[0] == "Broken orders can always be returned."
    assert "When the customer said “My order arrived broken and I'm furious!”: Say sorry for the broken order." in texts
    assert all("mention" not in text.lower() for text in texts)
    assert report["per_turn"][0] == {
        "message_id": 10,
        "score": judge_reply(scenario, 0, "Hello, we will look at it.").score,
        "matched": [],
        "missed": ["apology", "order number"],
    }


def test_replies_after_the_script_count_only_when_they_fall_into_a_pitfall(scenario):
    base = turns_of(
        ("I'm so sorry. What's the order number?", 0),
        ("A replacement is on its way.", 1),
        ("It will take 3 working days to reach you.", 2),
    )
    polite = report_of(
        scenario, base + [TraineeTurn(20, "Anything else I can do for you today?", "2024-05-01T09:04:00Z", 3)]
    )
    rude = report_of(
        scenario, base + [TraineeTurn(20, "You should have checked it on delivery.", "2024-05-01T09:04:00Z", 3)]
    )
    assert polite["overall_score"] == report_of(scenario, base)["overall_score"] == 100
    assert rude["overall_score"] < 100


def test_a_session_without_replies_scores_zero(scenario):
    report = build_report(scenario, [], started_at=STARTED, ended_at=STARTED, ended_by="time_up")
    assert report["overall_score"] == 0
    assert report["exchanges"] == 0 and report["duration_seconds"] == 0
    assert report["criteria"][0] == {"name": "Empathy", "weight": 2.0, "score": 0, "evidence": []}
    assert report["improvements"][0]["text"] == "3 of 3 customer lines were not answered; each counts as 0."


def test_report_facts_and_json(scenario):
    report = report_of(scenario, turns_of(("Sorry!", 0)))
    assert report["scenario"] == {"slug": "broken-order", "title": "Broken order"}
    assert report["duration_seconds"] == 270 and report["ended_by"] == "trainee_ended"
    assert json.loads(json.dumps(report)) == report


def test_long_lines_are_quoted_on_one_line_trimmed_with_an_ellipsis(scenario):
    long_line = "Hello.\n  " + "This sentence keeps going and  going without a break " * 5 + "done."
    report = report_of(scenario, [TraineeTurn(31, long_line, "2024-05-01T09:01:00Z", 0)])
    quote = next(i for i in report["improvements"] if i["evidence"])["evidence"][0]["quote"]
    assert len(quote) <= 160
    assert quote.endswith("…")
    assert quote.startswith("Hello. This sentence keeps going and going ")  # whitespace flattened
