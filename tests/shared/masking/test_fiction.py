"""A scenario's fiction (its persona's name, the emails and account numbers in its
situation and script) reaches the trainee as written and may be repeated back unmasked;
a trainee's real personal data is still masked."""

from __future__ import annotations

from shared.masking.fiction import MaskingRules, fiction_keys
from shared.masking.policy import MaskingPolicy
from shared.scenarios import load_scenarios
from tests.support.stack import REPO_ROOT

POLICY = MaskingPolicy(enabled=True, secret=b"test-key")


def _shipped(slug: str):
    scenarios, _errors = load_scenarios(REPO_ROOT / "scenarios")
    return next(scenario for scenario in scenarios if scenario.slug == slug)


def test_the_scripted_line_with_the_scenarios_email_and_account_number_is_not_masked():
    scenario = _shipped("customer-service")
    line = scenario.bot_messages[1].content
    masked, findings = POLICY.apply(line, {}, scenario.masking_rules)
    assert "jordan.ellis@example.com" in masked and "ACC-204518" in masked
    assert findings == []


def test_the_trainee_may_repeat_the_fiction_back_typed_differently():
    scenario = _shipped("customer-service")
    for text in (
        "Hi Jordan, I'm sorry about this.",
        "Thanks Jordan Ellis.",
        "Is it acc 204518 and Jordan.Ellis@example.com?",
    ):
        masked, findings = POLICY.apply(text, {}, scenario.masking_rules)
        assert masked == text and findings == [], text


def test_a_trainees_real_personal_data_is_still_masked():
    scenario = _shipped("customer-service")
    text = "Hi, I'm Sam Carter, reach me at sam.carter@mail.example or +44 20 7946 0958, account ACC-999999."
    masked, findings = POLICY.apply(text, {}, scenario.masking_rules)
    assert "Sam Carter" not in masked and "sam.carter" not in masked and "7946" not in masked
    assert "ACC-999999" not in masked
    assert {finding["type"] for finding in findings} >= {"NAME", "EMAIL", "PHONE", "ACCOUNT_NUMBER"}


def test_plain_patterns_without_fiction_mask_as_before():
    scenario = _shipped("customer-service")
    masked, _ = POLICY.apply(scenario.bot_messages[1].content, {}, tuple(scenario.masking_patterns))
    assert "[EMAIL_1]" in masked and "ACC-204518" not in masked


def test_fiction_keys_take_the_persona_name_whole_and_word_by_word():
    keys = fiction_keys([], ["Priya Raman"])
    assert {("NAME", "priya raman"), ("NAME", "priya"), ("NAME", "raman")} <= keys
    assert MaskingRules((), keys).fiction == keys
