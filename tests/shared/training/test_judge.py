"""The judge of one trainee reply: points made outside negations, pitfalls and their caps,
keyword lists, coaching sentences, and the upstream layout without points."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.scenarios.loader import load_scenario
from shared.scenarios.model import BotMessage, Pitfall, Point, RubricCriterion, Scenario
from shared.training.judge import KEYWORD_CREDIT, MINOR_PENALTY, RUDE_CAP, WRONG_CAP, judge_reply
from shared.training.language import is_negated, keyword_list_share
from shared.training.scoring import reply_feedback
from tests.support.stack import REPO_ROOT


@pytest.fixture(scope="module")
def customer_service() -> Scenario:
    return load_scenario(REPO_ROOT / "scenarios" / "customer-service" / "scenario.yaml")


@pytest.fixture(scope="module")
def technical_support() -> Scenario:
    return load_scenario(REPO_ROOT / "scenarios" / "technical-support" / "scenario.yaml")


def small_scenario(**line: object) -> Scenario:
    rubric = (
        RubricCriterion(name="Empathy", description="Acknowledges the customer's frustration."),
        RubricCriterion(name="Next steps", description="Says what happens next and when."),
        RubricCriterion(name="Professionalism", forbidden=("whatever",)),
    )
    return Scenario(
        slug="small",
        title="Small",
        description="A lamp arrived broken.",
        duration_minutes=10,
        bot_messages=(BotMessage(content="My lamp arrived broken. What now?", **line),),
        rubric=rubric,
        folder=REPO_ROOT,
    )


APOLOGY = Point(
    criterion="Empathy", label="apology", says=(r"\b(sorry|apolog\w*)\b",), coach="Say sorry for the broken lamp."
)
REPLACEMENT = Point(
    criterion="Next steps",
    label="replacement",
    says=(r"\b(replac\w*|new one|send (you )?another)\b",),
    coach="Tell the customer a replacement is on its way.",
    praise="You sent a replacement.",
    weight=2,
)


def test_a_reply_that_makes_every_point_scores_100_and_is_praised() -> None:
    scenario = small_scenario(points=(APOLOGY, REPLACEMENT))
    judgement = judge_reply(scenario, 0, "I'm so sorry it arrived broken. I'm sending you a replacement today.")
    assert judgement.score == 100
    assert judgement.criteria == {"Empathy": 100, "Next steps": 100}
    assert [c.text for c in judgement.worked()] == ["You sent a replacement.", "Empathy: apology."]
    assert judgement.improve() == []


def test_points_are_weighted_and_a_missed_one_becomes_the_coaching() -> None:
    scenario = small_scenario(points=(APOLOGY, REPLACEMENT))
    apology_only = judge_reply(scenario, 0, "I'm so sorry to hear that it arrived in pieces.")
    replacement_only = judge_reply(scenario, 0, "A replacement will reach you on Friday.")
    assert apology_only.score < replacement_only.score < 100
    assert [(c.criterion, c.text) for c in apology_only.improve()] == [
        ("Next steps", "Tell the customer a replacement is on its way.")
    ]


def test_a_point_said_inside_a_negation_is_not_made_and_counts_as_wrong() -> None:
    scenario = small_scenario(points=(APOLOGY, REPLACEMENT))
    judgement = judge_reply(scenario, 0, "I'm sorry, but there is no need to replace it, just glue it.")
    result = next(r for r in judgement.points if r.point.label == "replacement")
    assert not result.made and result.contradicted
    assert judgement.score <= WRONG_CAP
    assert judgement.improve()[0].text == "Tell the customer a replacement is on its way."


@pytest.mark.parametrize(
    ("text", "word", "negated"),
    [
        ("There's no need to rotate it.", "rotate", True),
        ("I can't refund that.", "refund", True),
        ("Don't worry about the spam folder.", "spam", True),
        ("We will never ask for your password.", "ask", True),
        ("No problem, rotate it now.", "rotate", False),
        ("Don't worry, I've refunded it.", "refunded", False),
        ("Nothing was lost, and I will replay them all.", "replay", False),
    ],
)
def test_negation_reaches_to_the_end_of_its_clause(text: str, word: str, negated: bool) -> None:
    assert is_negated(text, text.index(word)) is negated


def test_a_keyword_list_keeps_little_of_its_content() -> None:
    scenario = small_scenario(points=(APOLOGY, REPLACEMENT))
    stuffed = judge_reply(scenario, 0, "Sorry, sorry, apologies. Replacement, replace, new one.")
    assert keyword_list_share("Sorry, sorry, apologies. Replacement, replace, new one.") > 0.5
    assert keyword_list_share("I'm sorry it broke; I'll send you a new one today.") == 0
    assert stuffed.score <= 40
    assert "full sentences" in stuffed.improve()[0].text


def test_pitfalls_cap_the_score_by_severity() -> None:
    wrong = Pitfall(
        criterion="Next steps", label="no refunds", says=(r"\bno refunds\b",), coach="Refunds are possible."
    )
    minor = Pitfall(criterion="Empathy", label="curt", says=(r"\bfine\.",), coach="Warmer, please.", severity="minor")
    scenario = small_scenario(points=(APOLOGY, REPLACEMENT), pitfalls=(wrong, minor))
    good = "I'm sorry it broke; a replacement is on its way."
    assert judge_reply(scenario, 0, good).score == 100
    assert judge_reply(scenario, 0, good + " Note we do no refunds.").score == WRONG_CAP
    assert judge_reply(scenario, 0, "Fine. " + good).score == 100 - MINOR_PENALTY
    rude = judge_reply(scenario, 0, "Calm down. " + good)
    assert rude.score == RUDE_CAP
    assert rude.criteria["Professionalism"] <= RUDE_CAP
    assert rude.improve()[0].criterion == "Professionalism"


def test_a_rubric_forbidden_phrase_is_a_rude_pitfall() -> None:
    scenario = small_scenario(points=(APOLOGY, REPLACEMENT))
    judgement = judge_reply(scenario, 0, "Sorry, whatever, a replacement is coming.")
    assert judgement.score <= RUDE_CAP
    assert any(hit.pitfall.label == "whatever" for hit in judgement.pitfalls)


def test_asking_for_a_secret_is_wrong_but_saying_you_never_will_is_not(technical_support: Scenario) -> None:
    asks = judge_reply(technical_support, 2, "Thanks. Please send me your signing secret so I can compare it.")
    assert any(hit.pitfall.label == "asks for a secret" for hit in asks.pitfalls)
    assert asks.score <= WRONG_CAP
    reassures = judge_reply(
        technical_support,
        2,
        "Thanks for evt_93KQ2XM. That key is exposed now it is in this chat, so please rotate it from the "
        "dashboard. We never need your API key; I won't use it. I'm tracing the event now.",
    )
    assert reassures.pitfalls == ()
    assert reassures.score >= 90


def test_the_upstream_layout_gets_one_point_per_expected_keyword() -> None:
    scenario = small_scenario(expected_keywords=("sorry|apologize", "replacement"))
    judgement = judge_reply(scenario, 0, "I'm so sorry about that. A replacement is on its way to you today.")
    assert judgement.made_labels() == ["sorry", "replacement"]
    # A keyword said makes its point and gives it at least KEYWORD_CREDIT of its weight;
    # the rest comes from meaning it (this bare scenario has no documents to mean).
    assert all(point.degree >= KEYWORD_CREDIT for point in judgement.points)
    assert judgement.score >= 60
    half = judge_reply(scenario, 0, "I apologize for that.")
    assert half.made_labels() == ["sorry"]
    assert 40 <= half.score < judgement.score
    # The coaching is the rubric's words or the customer's question, never "mention X".
    assert all("mention" not in c.text.lower() for c in half.improve())
    assert judge_reply(scenario, 0, "Sorry, replacement, sorry, replacement.").score < half.score


def test_feedback_carries_score_criteria_coaching_and_points(customer_service: Scenario) -> None:
    feedback = reply_feedback(
        customer_service,
        3,
        "I'm sorry about that. The second 89.00 charge is a duplicate, and I've refunded it in full. "
        "You should see it on your card within 5-10 business days.",
    )
    data = feedback.to_json()
    assert data["score"] >= 90
    assert {c["name"] for c in data["criteria"]} == {"Empathy", "Ownership and diagnosis", "Clear next steps"}
    assert data["worked"] and all(set(item) == {"criterion", "text"} for item in data["worked"])
    assert data["missed"] == [] and "gives the refund timeline" in data["matched"]
    assert data["suggestions"] == [item["text"] for item in data["improve"]]


@pytest.mark.parametrize(
    ("line", "good", "bad"),
    [
        (
            3,
            "You're right, only one of those is yours: the second was our error. I've sent the 89 dollars back to "
            "your card; it'll show within a week or two depending on your bank.",
            "Thank you! Duplicate: refund, refunded, business days, confirm. Anything else?",
        ),
        (
            2,
            "You shouldn't have to sit around. Have a look in your junk folder now; if it isn't there in a couple "
            "of minutes I'll check our email log.",
            "Don't worry about the spam folder, our emails never go there. Just keep waiting.",
        ),
        (
            0,
            "Forgive the trouble, that's a rotten start to the day. I'll sort out the login and the double payment; "
            "could you send me the email and the number on your last invoice?",
            "Calm down, it's only 89 dollars. What's your password?",
        ),
    ],
)
def test_a_good_reply_in_plain_words_beats_stuffed_wrong_and_rude_ones(
    customer_service: Scenario, line: int, good: str, bad: str
) -> None:
    good_score = judge_reply(customer_service, line, good).score
    bad_score = judge_reply(customer_service, line, bad).score
    assert good_score >= 75
    assert bad_score <= 25


def test_replies_past_the_script_are_judged_on_pitfalls_and_form_only(customer_service: Scenario) -> None:
    assert judge_reply(customer_service, 99, "Thanks again, Jordan, have a lovely day.").score == 100
    assert judge_reply(customer_service, 99, "You should have read the reminder.").score <= RUDE_CAP


def test_the_annotated_example_in_the_authoring_guide_loads_and_judges_as_documented(tmp_path: Path) -> None:
    guide = (REPO_ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    folder = tmp_path / "broken-lamp"
    folder.mkdir()
    example = guide.split("## An annotated example")[1]
    (folder / "scenario.yaml").write_text(example.split("```yaml\n")[1].split("```")[0], encoding="utf-8")
    scenario = load_scenario(folder / "scenario.yaml")
    good = "I'm so sorry it arrived smashed! I'm sending you a new lamp today by express; it'll be with you in 2 working days."
    assert judge_reply(scenario, 0, good).score >= 80
    assert judge_reply(scenario, 0, "Please send it back and we will look.").score <= 50
    assert judge_reply(scenario, 0, "What is the weather like over there?").score <= 50
    assert judge_reply(scenario, 1, "No need to return it, just recycle the broken one.").score >= 80
    assert judge_reply(scenario, 1, "You need to return it first.").score <= WRONG_CAP


def test_a_point_naming_an_unknown_criterion_is_a_load_error(tmp_path: Path) -> None:
    from shared.scenarios.loader import ScenarioLoadError

    source = (REPO_ROOT / "scenarios" / "customer-service" / "scenario.yaml").read_text(encoding="utf-8")
    folder = tmp_path / "cs"
    folder.mkdir()
    for document in (REPO_ROOT / "scenarios" / "customer-service").glob("*.md"):
        (folder / document.name).write_text(document.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "scenario.yaml").write_text(
        source.replace("criterion: Empathy", "criterion: Empahty", 1), encoding="utf-8"
    )
    with pytest.raises(ScenarioLoadError) as error:
        load_scenario(folder / "scenario.yaml")
    assert "bot_messages.0.points.0.criterion: 'Empahty' is not the name of a rubric criterion" in str(error.value)


def test_a_scenario_in_the_upstream_layout_is_judged_sensibly() -> None:
    legacy = load_scenario(
        REPO_ROOT / "tests" / "data" / "scenarios" / "legacy_layout" / "billing_inquiry_v1" / "scenario.yaml"
    )
    good = "I can help with that. Let me check your invoice so we can see where the 24.99 came from."
    stuffed = "Help, invoice, check. Check invoice help."
    rude = "You should have read your invoice. I'll check it, I guess."
    scores = [judge_reply(legacy, 0, text).score for text in (good, stuffed, rude)]
    assert scores[0] >= 60  # its keywords made, each at least KEYWORD_CREDIT of its weight
    assert scores[1] <= 25 and scores[2] <= 25
    # A keyword said in a negation does not make its point, but is not marked wrong either:
    # in an upstream scenario "no refund" may be right ("no fee", "no interest" often are).
    denied = judge_reply(legacy, 1, "I've cancelled the add-on and there's no refund.")
    refunded = judge_reply(legacy, 1, "I'll cancel the add-on and refund the 24.99 to your card.")
    assert "refund" not in denied.made_labels() and not denied.pitfalls
    assert denied.score < refunded.score


def test_the_same_reply_judged_again_is_the_judgement_already_made_and_an_edited_scenario_is_judged_anew() -> None:
    # The mock provider judges the trainee's reply for its reaction, then the feedback
    # judges the same reply: the second call takes the first's judgement.
    path = REPO_ROOT / "scenarios" / "customer-service" / "scenario.yaml"
    scenario = load_scenario(path)
    reply = "I'm so sorry, let me send you a fresh reset link right now."
    first = judge_reply(scenario, 0, reply)
    assert judge_reply(scenario, 0, reply) is first
    assert judge_reply(scenario, 0, reply + " ") is not first
    assert judge_reply(scenario, 0, reply, hints=False) is not first
    reloaded = load_scenario(path)  # what a process that reads the folder again holds
    again = judge_reply(reloaded, 0, reply)
    assert again is not first and again.score == first.score
