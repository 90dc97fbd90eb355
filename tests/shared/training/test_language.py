"""Finding a scenario's patterns in a reply in one scan (shared/training/language.py)."""

from __future__ import annotations

import pytest

from shared.scenarios.loader import load_scenarios
from shared.training.language import any_pattern_occurs, compiled_pattern
from shared.training.pitfalls import all_pitfalls
from tests.support.stack import REPO_ROOT

REPLIES = (
    "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
    "Calm down, it's only 20 dollars.",
    "Can you confirm your full card number so I can check?",
    "Please send it over and I'll take a look.",
    "Frankly, you should have read the email.",
    "Did you know we have 20% off this week?",
    "",
)


def _every_pattern_of_every_scenario() -> list[tuple[str, ...]]:
    scenarios, _ = load_scenarios(REPO_ROOT / "scenarios")
    return [
        tuple(pattern for pitfall in all_pitfalls(scenario, turn) for pattern in pitfall.says)
        for scenario in scenarios
        for turn in range(len(scenario.bot_messages))
    ]


@pytest.mark.parametrize("text", REPLIES)
def test_one_scan_finds_a_pattern_exactly_when_one_of_them_would(text: str) -> None:
    for patterns in _every_pattern_of_every_scenario():
        one_by_one = any(compiled_pattern(pattern).search(text) for pattern in patterns)
        assert any_pattern_occurs(patterns, text) is one_by_one


def test_patterns_with_their_own_groups_or_flags_are_still_found() -> None:
    grouped = r"\b(never|not) again\b"  # joined first, its group would be group 1
    backreference = r"\b(\w+) \1\b"  # a doubled word: its \1 must stay its own group
    named = r"(?P<word>refund)\s+(?P=word)"
    patterns = (grouped, backreference, named)
    assert any_pattern_occurs(patterns, "it is is late")
    assert any_pattern_occurs(patterns, "a refund refund")
    assert any_pattern_occurs(patterns, "never again")
    assert not any_pattern_occurs(patterns, "a refund is on its way")
    flagged = r"(?x) spam \s folder"  # a flag of its own cannot sit inside a joined pattern
    assert any_pattern_occurs((r"\bnever\b", flagged), "check the SPAM folder")
    assert any_pattern_occurs((r"\bnever\b", flagged), "We never ask")
    assert not any_pattern_occurs((r"\bnever\b", flagged), "We always ask")
    assert not any_pattern_occurs((), "anything")
