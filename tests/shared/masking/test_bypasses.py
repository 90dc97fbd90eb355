"""One test per way of writing a value that a security review found masking missed
(issue 20, finding 1): each value must come out as a placeholder, with nothing of it
left in the text, however it was typed."""

from __future__ import annotations

import unicodedata

import pytest

from shared.masking import PlaceholderVault, mask_text
from shared.masking.placeholders import PLACEHOLDER_RE

SECRET = b"bypass-secret"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
IBAN = "GB82 WEST 1234 5698 7654 32"
SSN = "536-22-1234"


def masked(text: str) -> str:
    return mask_text(text, PlaceholderVault.from_json(None, SECRET)).text


def raw_digits(text: str) -> str:
    """The digits left outside placeholders, in whatever script they were written."""
    outside = PLACEHOLDER_RE.sub(" ", text)
    return "".join(str(unicodedata.digit(ch)) for ch in outside if unicodedata.digit(ch, None) is not None)


def assert_masked_whole(text: str, kind: str) -> None:
    """`text` holds one value between digit-free words: it must become one placeholder of
    `kind` and leave no digit and no invisible character of the value behind."""
    result = masked(text)
    assert f"[{kind}_1]" in result, result
    assert raw_digits(result) == "", result
    assert not any(unicodedata.category(ch) == "Cf" for ch in result), result


def respaced(value: str, separator: str) -> str:
    return value.replace(" ", separator)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"card {respaced(CARD, chr(0xA0))} thanks", "CARD"),
        (f"call me on {respaced(PHONE, chr(0xA0))} today", "PHONE"),
        (f"my IBAN is {respaced(IBAN, chr(0xA0))} please", "IBAN"),
        (f"card {respaced(CARD, chr(0x202F))} thanks", "CARD"),  # narrow no-break space
        (f"card {respaced(CARD, chr(0x2009))} thanks", "CARD"),  # thin space
    ],
)
def test_values_with_non_breaking_or_thin_spaces_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my SSN is 536\u201122\u20111234 ok", "SSN"),
        ("it's 536\u201122\u20111234 ok", "SSN"),
        ("call 555\u2011123\u20114567 ok", "PHONE"),
        (f"card {respaced(CARD, chr(0x2011))} thanks", "CARD"),
    ],
)
def test_values_with_non_breaking_hyphens_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("it's 536\u201322\u20131234 ok", "SSN"),
        ("it's 536\u201422\u20141234 ok", "SSN"),  # em dash
        ("it's 536\u221222\u22121234 ok", "SSN"),  # minus sign
        (f"card {respaced(CARD, chr(0x2013))} thanks", "CARD"),
        ("call +1 415\u2013555\u20130100 ok", "PHONE"),
        ("call (415) 555\u20130100 ok", "PHONE"),
    ],
)
def test_values_with_en_dashes_em_dashes_or_minus_signs_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"card {respaced(CARD, '.')} thanks", "CARD"),
        ("call +44.20.7946.0958 ok", "PHONE"),
        ("call +49.30.901820 ok", "PHONE"),
    ],
)
def test_values_with_dots_as_separators_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"card {respaced(CARD, '/')} thanks", "CARD"),
        ("call +49 30/901820 ok", "PHONE"),
        ("call +49 (0)30/901820 ok", "PHONE"),
    ],
)
def test_values_with_slashes_as_separators_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"card {respaced(CARD, chr(0x200B))} thanks", "CARD"),  # zero-width space
        ("card 4\u200d111111111111111 thanks", "CARD"),  # zero-width joiner
        ("it's 536-2\u00ad2-1234 ok", "SSN"),  # soft hyphen
        (f"call {respaced(PHONE, chr(0x2060))} ok", "PHONE"),  # word joiner
        ("IBAN GB82\ufeffWEST12345698765432 ok", "IBAN"),  # zero-width no-break space
    ],
)
def test_values_with_zero_width_characters_between_digits_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


def test_an_email_with_a_zero_width_character_inside_is_masked_whole() -> None:
    result = masked("write to jane\u200b.roe@exam\u200cple.com ok")
    assert result == "write to [EMAIL_1] ok"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card ４１１１ １１１１ １１１１ １１１１ thanks", "CARD"),
        ("call ＋４４ ２０ ７９４６ ０９５８ ok", "PHONE"),
        ("it's ５３６－２２－１２３４ ok", "SSN"),
    ],
)
def test_values_in_full_width_digits_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card ٤١١١ ١١١١ ١١١١ ١١١١ thanks", "CARD"),  # Arabic-Indic
        ("call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨ ok", "PHONE"),
        ("my SSN is ٥٣٦-٢٢-١٢٣٤ ok", "SSN"),
        ("card ۴۱۱۱ ۱۱۱۱ ۱۱۱۱ ۱۱۱۱ thanks", "CARD"),  # Extended Arabic-Indic (Persian)
        ("call +४४ २० ७९४६ ०९५८ ok", "PHONE"),  # Devanagari
    ],
)
def test_values_in_arabic_indic_and_other_scripts_digits_are_masked(text: str, kind: str) -> None:
    assert_masked_whole(text, kind)


@pytest.mark.parametrize("text", ["mail jane.roe＠example.com ok", "mail ｊａｎｅ.ｒｏｅ＠ｅｘａｍｐｌｅ.ｃｏｍ ok"])
def test_an_email_with_a_full_width_at_sign_is_masked(text: str) -> None:
    assert masked(text) == "mail [EMAIL_1] ok"


@pytest.mark.parametrize(
    "text",
    [
        "mail jane.roe @ example.com ok",
        "mail jane.roe@ example.com ok",
        "mail jane.roe @example.com ok",
        "mail jane.roe\u00a0@\u00a0example.com ok",
    ],
)
def test_an_email_with_spaces_around_the_at_sign_is_masked(text: str) -> None:
    assert masked(text) == "mail [EMAIL_1] ok"


@pytest.mark.parametrize(
    "text",
    [
        "card 41111111 11111111 thanks",
        "card 411111 1111111111 thanks",
        "card 4111 1111 11111111 thanks",
        "card 41 11 11 11 11 11 11 11 thanks",
    ],
)
def test_a_card_in_any_grouping_of_its_digits_is_masked(text: str) -> None:
    assert_masked_whole(text, "CARD")
