"""Properties checked on generated input, beyond the hand-written corpus: validated
values are always found, near-misses never are, and masking only ever replaces the
reported spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban, luhn

from shared.masking import PlaceholderVault, mask_text
from shared.masking.detectors import BUILT_IN
from shared.masking.placeholders import PLACEHOLDER_RE
from shared.masking.prefilter import TextFacts

SECRET = b"property-secret"
FAST = settings(max_examples=150, deadline=None, database=None)  # no .hypothesis folder in the repo


def fresh_vault() -> PlaceholderVault:
    return PlaceholderVault.from_json(None, SECRET)


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in mask_text(text, fresh_vault()).findings]


card_bodies = st.tuples(st.sampled_from("2345"), st.text("0123456789", min_size=14, max_size=14)).map("".join)


def grouped(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


@FAST
@given(body=card_bodies)
def test_every_luhn_valid_card_is_found_grouped_or_not(body: str) -> None:
    number = body + luhn.calc_check_digit(body)
    assert found(f"card {number} thanks") == [("CARD", number)]
    assert found(f"card {grouped(number)} thanks") == [("CARD", grouped(number))]


@FAST
@given(body=card_bodies, wrong=st.integers(1, 9))
def test_no_luhn_failing_sixteen_digit_run_is_a_card(body: str, wrong: int) -> None:
    check = (int(luhn.calc_check_digit(body)) + wrong) % 10
    text = f"number {grouped(body + str(check))} here"
    assert all(kind != "CARD" for kind, _ in found(text))


@FAST
@given(number=st.integers(100_000_000, 999_999_999))
def test_order_numbers_of_nine_digits_are_never_masked(number: int) -> None:
    assert found(f"order #{number} is late") == []


@FAST
@given(account=st.text("0123456789", min_size=18, max_size=18))
def test_every_checksum_valid_german_iban_is_found(account: str) -> None:
    value = "DE00" + account
    value = value[:2] + iban.calc_check_digits(value) + value[4:]
    assert found(f"IBAN {value} please") == [("IBAN", value)]


@FAST
@given(octets=st.tuples(st.integers(1, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_valid_ipv4_is_an_ip_unless_called_a_version(octets: tuple[int, ...]) -> None:
    value = ".".join(map(str, octets))
    assert found(f"from {value} today") == [("IP", value)]
    assert found(f"version {value} today") == []


prose = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.;!?'\n", max_size=300)


@FAST
@given(text=prose)
def test_lower_case_prose_without_digits_or_at_signs_is_never_masked(text: str) -> None:
    assert found(text) == []


@FAST
@given(text=st.text(max_size=400))
def test_output_is_the_input_with_exactly_the_reported_spans_replaced(text: str) -> None:
    result = mask_text(text, fresh_vault())
    rebuilt, cursor = [], 0
    for finding in result.findings:
        assert cursor <= finding.start < finding.end <= len(text)
        rebuilt += [text[cursor : finding.start], finding.placeholder]
        cursor = finding.end
    rebuilt.append(text[cursor:])
    assert "".join(rebuilt) == result.text


pii_pieces = st.sampled_from(
    [
        "jane.roe@example.com", "(555) 123-4567", "+44 20 7946 0958", "4111 1111 1111 1111",
        "GB82 WEST 1234 5698 7654 32", "SSN 536-22-1234", "IP 10.0.0.1", "DOB: 04/12/1985",
        "42 Elm St., Apt 5", "221b Baker St", "350 5th Ave", "PO Box 1234", "7-9 Harbour Road",
        "account number: 12345678", "I'm Jane Roe", "Regards, Jane", "fe80::1ff:fe23:4567:890a",
        "0044 20 7946 0958", "555-123-4567 ext. 89", "my ss# 212678901", "born 14th of February 1988",
        "order #123456789", "version 1.2.3.4", "I'm sorry", "at 12:30:45", "$45.99",
    ]
)  # fmt: skip


@FAST
@given(pieces=st.lists(pii_pieces, min_size=1, max_size=8), joiner=st.sampled_from([" ", ", ", ". ", "\n"]))
def test_masking_twice_changes_nothing_more(pieces: list[str], joiner: str) -> None:
    vault = fresh_vault()
    once = mask_text(joiner.join(pieces), vault)
    twice = mask_text(once.text, vault)
    assert twice.text == once.text
    assert twice.findings == []
    assert all(PLACEHOLDER_RE.fullmatch(f.placeholder) for f in once.findings)


class FullScanFacts(TextFacts):
    """Facts that answer "yes, look everywhere": detectors then scan the whole text."""

    @property
    def number_regions(self) -> list[tuple[int, int]]:  # type: ignore[override]
        return [(0, len(self.text))]

    dotted_quad_regions = house_number_regions = number_regions  # type: ignore[assignment]
    has_digit = has_long_number = has_dotted_quad = may_have_ipv6 = may_have_house_number = True  # type: ignore[assignment]

    def mentions(self, words: tuple[str, ...]) -> bool:
        return True


filler = st.sampled_from(
    [
        " ", ", ", ". ", "\n", " and ", " order #A-10023 ", " at 09:30 ", " for $149.99 ",
        " (version 5.2.1) ", " I'm sorry ", " this is urgent ", " 3rd ", " Hello ", " 45 ",
        # Non-ASCII text takes the prefilter's other path (shape offsets differ).
        " Grüße ", " €45 ", " naïve ",
    ]
)  # fmt: skip


def test_full_scan_facts_do_reach_every_detector() -> None:
    text = "call (555) 123-4567 or see 221B Baker Street, IP 10.0.0.1"
    found = {c.type for detector in BUILT_IN for c in detector.detect(text, FullScanFacts(text))}
    assert {"PHONE", "ADDRESS", "IP"} <= found


@FAST
@given(parts=st.lists(st.one_of(pii_pieces, filler), min_size=1, max_size=12))
def test_prefilter_never_hides_a_finding(parts: list[str]) -> None:
    text = "".join(parts)
    for detector in BUILT_IN:
        with_prefilter = sorted((c.type, c.start, c.end) for c in detector.detect(text, TextFacts(text)))
        full_scan = sorted((c.type, c.start, c.end) for c in detector.detect(text, FullScanFacts(text)))
        assert with_prefilter == full_scan, detector.__name__
