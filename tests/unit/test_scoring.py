import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scenarios.model import RubricCriterion
from shared.training.scoring import NEUTRAL_SCORE, score_reply

EXPECTED = ("sorry|apologize", "refund", "order number")
WORKED_REPLY = "I'm so sorry about this. Could you send me your order number, please?"


@pytest.fixture(name="rubric")
def _rubric():
    return (
        RubricCriterion(
            name="Empathy",
            description="Acknowledge how the customer feels",
            weight=2,
            keywords=("understand", "frustrating"),
            phrases=("so sorry",),
        ),
        RubricCriterion(
            name="Professionalism",
            description="Stay polite and calm.",
            weight=1,
            keywords=("please", "thank you"),
            forbidden=("calm down",),
        ),
    )


def test_worked_example_scores_56(rubric):
    feedback = score_reply(WORKED_REPLY, EXPECTED, rubric)

    # 100 * (0.6 * 2/3 + 0.4 * (2 * 1/3 + 1 * 1/2) / 3) = 55.6
    assert feedback.score == 56
    assert feedback.matched == ["sorry|apologize", "order number"]
    assert feedback.missed == ["refund"]
    assert feedback.criteria == {"Empathy": 33, "Professionalism": 50}


def test_worked_example_suggestions_name_what_to_say(rubric):
    feedback = score_reply(WORKED_REPLY, EXPECTED, rubric)

    assert feedback.suggestions == [
        "Mention “refund”.",
        "Acknowledge how the customer feels, e.g. say “understand”.",
        "Stay polite and calm, e.g. say “thank you”.",
    ]


def test_forbidden_phrase_zeroes_its_criterion_and_comes_first_in_suggestions(rubric):
    feedback = score_reply(WORKED_REPLY + " Now calm down.", EXPECTED, rubric)

    # 100 * (0.6 * 2/3 + 0.4 * (2 * 1/3 + 1 * 0) / 3) = 48.9
    assert feedback.score == 49
    assert feedback.criteria == {"Empathy": 33, "Professionalism": 0}
    assert feedback.suggestions[0] == "Avoid saying “calm down”; it counts against Professionalism."


def test_reply_with_none_of_the_expected_content_scores_zero(rubric):
    feedback = score_reply("Hello, how can I help?", EXPECTED, rubric)

    assert feedback.score == 0
    assert feedback.matched == []
    assert feedback.missed == list(EXPECTED)


def test_reply_with_all_expected_content_scores_100(rubric):
    text = (
        "I'm so sorry, I understand how frustrating this is. Thank you for your patience; "
        "please send your order number and I'll arrange a refund."
    )

    feedback = score_reply(text, EXPECTED, rubric)

    assert feedback.score == 100
    assert feedback.suggestions == []


def test_nothing_to_measure_gives_the_neutral_score():
    feedback = score_reply("Anything at all.", (), ())

    assert feedback.score == NEUTRAL_SCORE == 50
    assert feedback.to_json() == {"score": 50, "matched": [], "missed": [], "suggestions": [], "criteria": {}}


def test_without_expected_keywords_the_rubric_is_the_whole_score(rubric):
    feedback = score_reply("I understand, so sorry. Please bear with me.", (), rubric)

    # rubric (2 * 2/3 + 1 * 1/2) / 3 = 0.611
    assert feedback.score == 61


def test_without_rubric_keyword_coverage_is_the_whole_score():
    assert score_reply("I can offer a refund.", EXPECTED, ()).score == 33


def test_an_entry_with_alternatives_counts_once_whichever_is_used():
    assert score_reply("We apologise and apologize.", ("sorry|apologize|apologise",), ()).score == 100


def test_criterion_with_only_forbidden_phrases_gives_no_credit_for_avoiding_them():
    guard = RubricCriterion(name="Tone", forbidden=("whatever",))

    clean = score_reply("Hello.", ("refund",), (guard,))
    rude = score_reply("Whatever.", (), (guard,))

    assert clean.score == 0
    assert clean.criteria == {"Tone": 100}
    assert rude.score == 0
    assert score_reply("Hello.", (), (guard,)).score == NEUTRAL_SCORE


def test_pattern_evidence_counts_and_missing_patterns_give_description_only_advice():
    criterion = RubricCriterion(name="Next steps", description="Give a time frame", patterns=(r"\d+\s+days?",))

    assert score_reply("It will take 3 days.", (), (criterion,)).score == 100
    assert score_reply("It will take a while.", (), (criterion,)).suggestions == ["Give a time frame."]


def test_to_json_is_json_serialisable(rubric):
    data = score_reply(WORKED_REPLY, EXPECTED, rubric).to_json()

    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"score", "matched", "missed", "suggestions", "criteria"}


# Added content comes from GOOD_WORDS only; forbidden phrases only from BAD_WORDS, so
# adding good content can never complete a forbidden phrase.
GOOD_WORDS = ("refund", "sorry", "apologize", "order", "number", "please", "thank", "understand", "today")
BAD_WORDS = ("calm", "down", "whatever", "policy", "nothing")
FILLER = ("the", "a", "we", "can", "it", "is", ".", ",", "!", "?")

good_keyword = st.lists(
    st.lists(st.sampled_from(GOOD_WORDS), min_size=1, max_size=2).map(" ".join), min_size=1, max_size=3
).map("|".join)
bad_phrase = st.lists(st.sampled_from(BAD_WORDS), min_size=1, max_size=2).map(" ".join)
pattern = st.sampled_from(GOOD_WORDS).map(lambda word: rf"{word}\w*")


@st.composite
def rubrics(draw):
    count = draw(st.integers(min_value=0, max_value=3))
    return tuple(
        RubricCriterion(
            name=f"criterion {i}",
            weight=draw(st.floats(min_value=0.1, max_value=5)),
            keywords=tuple(draw(st.lists(good_keyword, max_size=3))),
            phrases=tuple(draw(st.lists(good_keyword, max_size=2))),
            patterns=tuple(draw(st.lists(pattern, max_size=2))),
            forbidden=tuple(draw(st.lists(bad_phrase, max_size=2))),
        )
        for i in range(count)
    )


replies = st.lists(st.sampled_from(GOOD_WORDS + BAD_WORDS + FILLER), max_size=15).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=replies, expected=st.lists(good_keyword, max_size=4), rubric=rubrics())
def test_adding_expected_content_never_lowers_the_score(data, text, expected, rubric):
    items = list(expected)
    for criterion in rubric:
        items.extend(criterion.keywords + criterion.phrases)
    addition = data.draw(st.sampled_from(items) if items else st.sampled_from(GOOD_WORDS))
    said = data.draw(st.sampled_from(addition.split("|")))

    before = score_reply(text, expected, rubric)
    after = score_reply(f"{text} {said}", expected, rubric)

    assert after.score >= before.score
    assert set(after.matched) >= set(before.matched)
    assert all(after.criteria[name] >= score for name, score in before.criteria.items())


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | replies, expected=st.lists(good_keyword | bad_phrase, max_size=4), rubric=rubrics())
def test_scores_stay_between_0_and_100(text, expected, rubric):
    feedback = score_reply(text, expected, rubric)

    assert 0 <= feedback.score <= 100
    assert all(0 <= score <= 100 for score in feedback.criteria.values())
