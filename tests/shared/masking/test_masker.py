"""Behaviour of the public masking API: placeholders, the vault, offsets, labels,
scenario patterns, overlap resolution and idempotence."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass

import pytest

from shared.masking import Finding, MaskResult, PlaceholderVault, compile_patterns, mask_text
from shared.masking.model import RANK_LABELLED, RANK_VALIDATED, Candidate
from shared.masking.overlap import resolve_overlaps

SECRET = b"unit-test-secret"


@dataclass(frozen=True)
class Pattern:
    """Stands in for the scenario model's MaskingPattern (.name, .regex)."""

    name: str
    regex: str


@pytest.fixture(name="vault")
def _vault() -> PlaceholderVault:
    return PlaceholderVault.from_json(None, SECRET)


def round_trip(vault: PlaceholderVault) -> PlaceholderVault:
    """What the web does between messages: store as JSON text, load again."""
    return PlaceholderVault.from_json(json.loads(json.dumps(vault.to_json())), SECRET)


def test_issue_example_masks_name_email_card_and_phone(vault: PlaceholderVault) -> None:
    text = "I'm Jane Roe, jane.roe@example.com, card 4111 1111 1111 1111, call me on +44 20 7946 0958"
    result = mask_text(text, vault)
    assert result.text == "I'm [NAME_1], [EMAIL_1], card [CARD_1], call me on [PHONE_1]"
    assert [f.type for f in result.findings] == ["NAME", "EMAIL", "CARD", "PHONE"]


def test_same_value_gets_same_placeholder_across_messages_after_vault_round_trip(
    vault: PlaceholderVault,
) -> None:
    first = mask_text("email me: jane@example.com", vault)
    second = mask_text("did jane@example.com get it?", round_trip(vault))
    assert first.text == "email me: [EMAIL_1]"
    assert second.text == "did [EMAIL_1] get it?"


def test_second_distinct_value_of_a_type_gets_number_two(vault: PlaceholderVault) -> None:
    mask_text("jane@example.com", vault)
    vault = round_trip(vault)
    result = mask_text("now bob@example.com and jane@example.com", vault)
    assert result.text == "now [EMAIL_2] and [EMAIL_1]"


def test_numbering_is_per_type(vault: PlaceholderVault) -> None:
    result = mask_text("jane@example.com or (555) 123-4567", vault)
    assert result.text == "[EMAIL_1] or [PHONE_1]"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("(555) 123-4567", "+1 555 123 4567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("4111 1111 1111 1111", "4111-1111-1111-1111"),
        ("Jane.Roe@Example.com", "jane.roe@example.com"),
        ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
        ("DOB: 04/12/1985", "DOB: April 12, 1985"),
    ],
)
def test_one_value_written_two_ways_shares_a_placeholder(vault: PlaceholderVault, first: str, second: str) -> None:
    one = mask_text(first, vault).findings
    two = mask_text(second, vault).findings
    assert len(one) == len(two) == 1
    assert one[0].placeholder == two[0].placeholder


def test_vault_json_contains_no_original_value(vault: PlaceholderVault) -> None:
    values = ["jane.roe@example.com", "4111111111111111", "+442079460958", "Jane Roe", "536-22-1234"]
    mask_text(
        "I'm Jane Roe, jane.roe@example.com, card 4111 1111 1111 1111, +44 20 7946 0958, SSN 536-22-1234",
        vault,
    )
    stored = json.dumps(vault.to_json()).lower()
    assert len(vault.to_json()["entries"]) == 5
    for value in values + ["4111", "7946", "jane", "roe", "536221234"]:
        assert value.lower() not in stored


def test_vault_key_is_truncated_hmac_sha256_of_type_and_normalised_value(vault: PlaceholderVault) -> None:
    mask_text("Jane.Roe@Example.com", vault)
    expected = hmac.new(SECRET, b"EMAIL\x1fjane.roe@example.com", hashlib.sha256).hexdigest()[:32]
    assert vault.to_json()["entries"] == {expected: "[EMAIL_1]"}


def test_vault_digests_depend_on_the_secret() -> None:
    one = PlaceholderVault.from_json(None, b"secret-one")
    two = PlaceholderVault.from_json(None, b"secret-two")
    mask_text("jane@example.com", one)
    mask_text("jane@example.com", two)
    assert one.to_json()["entries"].keys() != two.to_json()["entries"].keys()


def test_vault_from_empty_or_none_starts_fresh() -> None:
    assert PlaceholderVault.from_json(None, SECRET).to_json()["entries"] == {}
    assert PlaceholderVault.from_json({}, SECRET).to_json()["entries"] == {}


def test_vault_rejects_empty_secret_and_malformed_data() -> None:
    with pytest.raises(ValueError):
        PlaceholderVault.from_json(None, b"")
    with pytest.raises(ValueError):
        PlaceholderVault.from_json({"version": 1, "entries": {"abc": "not a placeholder"}}, SECRET)
    with pytest.raises(ValueError):
        PlaceholderVault.from_json({"version": 99, "entries": {}}, SECRET)


def test_vault_repr_does_not_show_the_secret(vault: PlaceholderVault) -> None:
    assert "unit-test-secret" not in repr(vault)


def test_labels_stay_and_only_values_are_replaced(vault: PlaceholderVault) -> None:
    text = "Account number: 12345678. DOB: 04/12/1985. Policy no. AB-123456. Thanks, Mr. Smith"
    result = mask_text(text, vault)
    assert result.text == ("Account number: [ACCOUNT_1]. DOB: [DOB_1]. Policy no. [ACCOUNT_2]. Thanks, Mr. [NAME_1]")


def test_finding_offsets_point_into_the_original_text(vault: PlaceholderVault) -> None:
    text = "Mail jane@example.com, call (555) 123-4567 or see 221B Baker Street."
    result = mask_text(text, vault)
    spans = {f.type: text[f.start : f.end] for f in result.findings}
    assert spans == {"EMAIL": "jane@example.com", "PHONE": "(555) 123-4567", "ADDRESS": "221B Baker Street"}
    assert [f.start for f in result.findings] == sorted(f.start for f in result.findings)


def test_finding_json_has_type_offsets_and_placeholder_but_no_value(vault: PlaceholderVault) -> None:
    finding = mask_text("jane@example.com", vault).findings[0]
    assert finding.to_json() == {"type": "EMAIL", "start": 0, "end": 16, "placeholder": "[EMAIL_1]"}


def test_text_without_personal_data_is_returned_unchanged(vault: PlaceholderVault) -> None:
    text = "I'm sorry, this is urgent: order #123456789 still hasn't arrived after 12:30:45 today."
    assert mask_text(text, vault) == MaskResult(text=text, findings=[])
    assert vault.to_json()["entries"] == {}


def test_test_account_phrase_never_disables_masking(vault: PlaceholderVault) -> None:
    result = mask_text("This is a test account, but my email is jane@example.com", vault)
    assert result.text == "This is a test account, but my email is [EMAIL_1]"


def test_masking_is_idempotent_on_masked_text(vault: PlaceholderVault) -> None:
    text = (
        "I'm Jane Roe, account number: 12345678, DOB: 04/12/1985, 42 Elm St., Apt 5, "
        "IP 10.0.0.1, IBAN GB82 WEST 1234 5698 7654 32.\nRegards, Jane"
    )
    once = mask_text(text, vault)
    twice = mask_text(once.text, vault)
    assert twice.text == once.text
    assert twice.findings == []


def test_scenario_pattern_masks_whole_match_with_its_own_type(vault: PlaceholderVault) -> None:
    patterns = (Pattern("POLICY", r"\bPOL-\d{6}\b"),)
    result = mask_text("it is POL-123456, not POL-654321; POL-123456 again", vault, extra_patterns=patterns)
    assert result.text == "it is [POLICY_1], not [POLICY_2]; [POLICY_1] again"


def test_scenario_pattern_value_group_keeps_its_label(vault: PlaceholderVault) -> None:
    patterns = (Pattern("MEMBER_CODE", r"code (?P<value>[a-z]{3}\d{3})"),)
    result = mask_text("my code abc123 works", vault, extra_patterns=patterns)
    assert result.text == "my code [MEMBER_CODE_1] works"


def test_scenario_patterns_are_compiled_once_per_pattern_set(vault: PlaceholderVault) -> None:
    patterns = (Pattern("CLAIM", r"\bCL\d{5}\b"),)
    mask_text("CL12345", vault, extra_patterns=patterns)
    hits_before = compile_patterns.cache_info().hits
    mask_text("CL54321", vault, extra_patterns=[Pattern("CLAIM", r"\bCL\d{5}\b")])
    assert compile_patterns.cache_info().hits == hits_before + 1


@pytest.mark.parametrize("pattern", [Pattern("POLICY", r"(unclosed"), Pattern("lower_name", r"\d+")])
def test_bad_scenario_pattern_raises_instead_of_leaking(vault: PlaceholderVault, pattern: Pattern) -> None:
    with pytest.raises(ValueError):
        mask_text("text 123", vault, extra_patterns=(pattern,))


def test_validated_type_beats_labelled_one_on_overlap(vault: PlaceholderVault) -> None:
    result = mask_text("account number: 4111 1111 1111 1111", vault)
    assert result.text == "account number: [CARD_1]"


def test_overlap_resolution_prefers_rank_then_length_whatever_the_input_order() -> None:
    candidates = [
        Candidate("ACCOUNT", 0, 20, "a", RANK_LABELLED),
        Candidate("PHONE", 5, 15, "p", RANK_VALIDATED),
        Candidate("CARD", 5, 19, "c", RANK_VALIDATED),
        Candidate("NAME", 25, 30, "n", 0),
        Candidate("EMAIL", 28, 40, "e", RANK_VALIDATED),
    ]
    expected = [("CARD", 5, 19), ("EMAIL", 28, 40)]
    for seed in range(20):
        shuffled = candidates[:]
        random.Random(seed).shuffle(shuffled)
        assert [(c.type, c.start, c.end) for c in resolve_overlaps(shuffled)] == expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # "+49 30 901820 4111" is a possible German number; the card beats it.
        ("+49 30 901820 4111 1111 1111 1111", "[PHONE_1] [CARD_1]"),
        ("+49 30 901820 536-22-1234", "[PHONE_1]-[SSN_1]"),
        # "+49 30 901820 0044" too; the second number's own "00" is tried as well.
        ("+49 30 901820 0044 20 7946 0958", "[PHONE_1] [PHONE_2]"),
    ],
)
def test_a_validated_value_that_loses_an_overlap_leaves_none_of_its_own_digits(
    vault: PlaceholderVault, text: str, masked: str
) -> None:
    assert mask_text(text, vault).text == masked


def test_existing_placeholders_are_never_masked_over() -> None:
    chosen = resolve_overlaps([Candidate("ACCOUNT", 3, 12, "x", RANK_LABELLED)], protected=[(0, 10)])
    assert chosen == []


def test_finding_is_importable_and_serialisable() -> None:
    assert Finding("IP", 1, 2, "[IP_1]").to_json()["placeholder"] == "[IP_1]"
