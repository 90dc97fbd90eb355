"""The judge on a scenario written the new way (tests/data/scenarios/plain_words): points and
pitfalls in plain words, judged by meaning; the documents' rules; the word vectors."""

from __future__ import annotations

import numpy as np
import pytest

from shared.scenarios.loader import load_scenario
from shared.scenarios.model import Scenario
from shared.training.documents import document_rules
from shared.training.embedding import default_embedder
from shared.training.judge import RUDE_CAP, WRONG_CAP, judge_reply
from tests.support.stack import REPO_ROOT

HOTEL = REPO_ROOT / "tests" / "data" / "scenarios" / "plain_words" / "hotel" / "scenario.yaml"


@pytest.fixture(name="hotel", scope="module")
def _hotel() -> Scenario:
    return load_scenario(HOTEL)


def score(scenario: Scenario, text: str) -> int:
    return judge_reply(scenario, 0, text).score


def test_a_good_reply_in_words_the_author_never_wrote_makes_the_points(hotel):
    judgement = judge_reply(
        hotel,
        0,
        "Forgive us, this is our mistake. Your room tonight is at the hotel next door and we're paying for it, "
        "plus the ride over.",
    )
    assert judgement.score >= 80
    assert "apologises for the lost booking" in judgement.made_labels()
    assert any(label.startswith("says the hotel has booked") for label in judgement.made_labels())


def test_vague_off_topic_and_keyword_list_replies_score_below_a_good_one(hotel):
    good = score(
        hotel, "I'm so sorry. We've reserved you a room at the partner hotel next door tonight at our expense."
    )
    vague = score(hotel, "Sorry about that. I'll look into it.")
    off_topic = score(hotel, "Our spa is open until ten, would you like to book a massage?")
    keywords = score(hotel, "Sorry, hotel, next door, taxi, pay, tonight.")
    assert good >= 80
    assert vague <= 40
    assert off_topic <= 15
    assert keywords <= 10


def test_a_pitfall_in_plain_words_catches_the_wrong_act_it_describes(hotel):
    judgement = judge_reply(
        hotel, 0, "Sorry about that. You'll have to pay for the hotel next door yourself and claim it back later."
    )
    assert judgement.score <= WRONG_CAP
    assert [hit.pitfall.label for hit in judgement.pitfalls] == [
        "says the guest has to pay for the other hotel and claim it back later"
    ]
    assert judgement.improve()[0].text == "Do not say the guest has to pay for the other hotel and claim it back later."


@pytest.mark.parametrize(
    "reply",
    [
        "Whatever happens, you'll have a bed tonight: I'm sorry, I've booked you next door at our cost and the taxi is paid.",
        "Absolutely, you should have that. I've booked the partner hotel next door for you tonight at our cost, "
        "taxi included, and I'm sorry.",
    ],
)
def test_a_common_word_never_caps_an_excellent_reply(hotel, reply):
    judgement = judge_reply(hotel, 0, reply)
    assert judgement.pitfalls == ()
    assert judgement.score > RUDE_CAP + 50


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        (
            "Sorry. I've booked you next door. Can you give me your full card number so I can hold it?",
            "asks for a secret",
        ),
        (
            "Sorry. I've booked you next door at our cost and I'll email you your full card number for your records.",
            "sends a card number or secret",
        ),
    ],
)
def test_asking_for_or_sending_a_card_number_is_wrong_whoever_starts_it(hotel, reply, label):
    judgement = judge_reply(hotel, 0, reply)
    assert judgement.score <= WRONG_CAP
    assert label in [hit.pitfall.label for hit in judgement.pitfalls]


def test_a_built_in_pitfall_does_not_fire_on_the_customers_own_words(hotel):
    scenario = hotel.model_copy(
        update={
            "bot_messages": (
                hotel.bot_messages[0].model_copy(update={"content": "Did you know my booking was confirmed by email?"}),
            )
        }
    )
    judgement = judge_reply(
        scenario, 0, "Did you know is exactly right: I'm sorry, the booking was lost, we've booked you next door."
    )
    assert "changes the subject" not in [hit.pitfall.label for hit in judgement.pitfalls]


def test_the_documents_prohibitions_become_rules_and_past_tense_never_does_not(hotel):
    acts = [rule.act for rule in document_rules(hotel)]
    assert acts == [
        "ask the guest for their full card number over the phone or in chat",
        "send the guest away without a room booked for the night",
        "promise an upgrade that the duty manager has not approved",
    ]


def test_a_reply_that_breaks_a_documents_rule_is_wrong_and_its_negation_is_not(hotel):
    broken = judge_reply(hotel, 0, "Sorry, I'll promise you an upgrade that the duty manager has not approved yet.")
    assert broken.score <= WRONG_CAP
    hit = next(hit for hit in broken.pitfalls if hit.pitfall.label.startswith("goes against the guide"))
    assert (
        hit.pitfall.coach
        == "The guide says: Agents must not promise an upgrade that the duty manager has not approved."
    )
    kept = judge_reply(hotel, 0, "Sorry, I can't promise an upgrade that the duty manager has not approved.")
    assert not any(hit.pitfall.label.startswith("goes against the guide") for hit in kept.pitfalls)


def test_the_word_vectors_come_from_the_package_and_are_deterministic_unit_vectors():
    embedder = default_embedder()
    first = embedder.embed(["I've sent the refund to your card.", ""])
    second = embedder.embed(["I've sent the refund to your card.", ""])
    assert np.array_equal(first, second)
    assert first.shape == (2, embedder.dimensions)
    assert np.isclose(np.linalg.norm(first[0]), 1.0)
    assert not first[1].any()  # no tokens: a zero vector, never a division by zero


def _with_feedback_section(tmp_path, section: str) -> Scenario:
    folder = tmp_path / "hotel"
    folder.mkdir()
    for source in HOTEL.parent.iterdir():
        (folder / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "scenario.yaml").write_text(HOTEL.read_text(encoding="utf-8") + section, encoding="utf-8")
    return load_scenario(folder / "scenario.yaml")


def test_a_scenario_switches_a_built_in_pitfall_off_or_rewords_its_coaching(tmp_path):
    reply = "Obviously I'm sorry: we've booked you a room at the partner hotel next door tonight at our cost."
    assert "impatient tone" in [hit.pitfall.label for hit in judge_reply(load_scenario(HOTEL), 0, reply).pitfalls]
    scenario = _with_feedback_section(
        tmp_path,
        "feedback:\n  built_in_pitfalls:\n    disable: [impatient tone]\n"
        "    coach:\n      asks for a secret: Verify the guest with the booking reference and surname only.\n",
    )
    assert judge_reply(scenario, 0, reply).pitfalls == ()
    asked = judge_reply(scenario, 0, "Sorry. Can you give me your full card number so I can find the booking?")
    assert [coaching.text for coaching in asked.improve()][0] == (
        "Verify the guest with the booking reference and surname only."
    )


def test_naming_a_built_in_pitfall_that_does_not_exist_is_a_load_error(tmp_path):
    from shared.scenarios.loader import ScenarioLoadError

    with pytest.raises(ScenarioLoadError) as error:
        _with_feedback_section(tmp_path, "feedback:\n  built_in_pitfalls:\n    disable: [rudeness]\n")
    assert (
        "feedback.built_in_pitfalls.disable: 'rudeness' is not a built-in pitfall (they are: asks for a secret,"
        in str(error.value)
    )


@pytest.mark.parametrize(
    ("reply", "asks"),
    [
        ("Thank you. Let me verify and confirm the account, then we reset the password by email.", False),
        ("Can you confirm you received the new password link?", False),
        ("Could you confirm your password?", True),
        ("We need your API key to check.", True),
    ],
)
def test_asking_for_a_secret_is_told_from_talking_about_one(reply, asks):
    scenario = load_scenario(REPO_ROOT / "scenarios" / "customer-service" / "scenario.yaml")
    labels = [hit.pitfall.label for hit in judge_reply(scenario, 1, reply).pitfalls]
    assert ("asks for a secret" in labels) is asks


@pytest.mark.parametrize(
    ("customer", "reply", "taken"),
    [
        ("Just take my card number now and charge the taxi to it.", "Sure, go ahead and read it out.", True),
        (
            "Just take my card number now and charge the taxi to it.",
            "Please don't share it here; we pay the taxi.",
            False,
        ),
        ("My password keeps failing and there's no room?", "Sure, go ahead: I've booked you next door.", False),
    ],
)
def test_taking_a_secret_the_customer_offers_is_wrong_and_refusing_it_is_not(hotel, customer, reply, taken):
    line = hotel.bot_messages[0].model_copy(update={"content": customer})
    scenario = hotel.model_copy(update={"bot_messages": (line,)})
    labels = [hit.pitfall.label for hit in judge_reply(scenario, 0, reply).pitfalls]
    assert ("takes a card number or secret the customer offers" in labels) is taken


def _upstream(tmp_path, name: str, document: str) -> Scenario:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "guide.md").write_text(document, encoding="utf-8")
    (folder / "scenario.yaml").write_text(
        f"id: {name}\ntitle: T\ndescription: D.\nduration_minutes: 5\n"
        "documents: [{filename: guide.md, title: Guide}]\n"
        "bot_messages:\n  - content: When do I get my money back?\n    expected_keywords: [refund]\n",
        encoding="utf-8",
    )
    return load_scenario(folder / "scenario.yaml")


def test_upstream_scenarios_sharing_a_keyword_keep_their_own_document_anchors(tmp_path):
    bank = _upstream(tmp_path, "bank", "A refund goes back to the card within five business days.\n")
    shop = _upstream(tmp_path, "shop", "A refund is paid as store credit on a gift voucher.\n")
    reply = "The money goes back to your card within five business days."
    alone = judge_reply(bank, 0, reply).score
    judge_reply(shop, 0, reply)  # the other scenario's equal keyword point, judged in between
    assert judge_reply(bank, 0, reply).score == alone
    assert alone > judge_reply(shop, 0, reply).score


def test_a_rule_is_not_broken_by_saying_it_will_never_be_broken(tmp_path):
    scenario = _upstream(
        tmp_path,
        "rules",
        "## What you must never do\n\n- Advise the customer not to admit fault to anyone.\n\n"
        "Never ask for the password or the full card number, and never read them back.\n",
    )
    assert [rule.act for rule in document_rules(scenario)] == [
        "ask for the password or the full card number",
        "read them back",
    ]
    for reply in ("We will never ask for your password.", "Please don't admit fault to the other driver."):
        assert not any(hit.pitfall.label.startswith("goes against") for hit in judge_reply(scenario, 0, reply).pitfalls)
    asked = judge_reply(scenario, 0, "To check the refund, could you ask for the password or the full card number?")
    assert any(hit.pitfall.label.startswith("goes against the guide") for hit in asked.pitfalls)


def test_a_negated_speech_act_is_not_a_wrong_fact(hotel):
    judgement = judge_reply(
        hotel, 0, "I can't apologise enough for the lost booking: we've booked you next door tonight at our cost."
    )
    assert not any(result.contradicted for result in judgement.points)
    assert judgement.score > RUDE_CAP + 30
