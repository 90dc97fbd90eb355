"""The folding that runs before detection, and the map back to the text as typed."""

from __future__ import annotations

import pytest

from shared.masking import PlaceholderVault, mask_text
from shared.masking.normalise import normalise


def test_ascii_text_is_not_copied_or_mapped() -> None:
    folded = normalise("card 4111 1111 1111 1111")
    assert folded.text == "card 4111 1111 1111 1111" and folded.origins is None


def test_text_whose_non_ascii_characters_stay_is_not_mapped() -> None:
    folded = normalise("I’m naïve about Grüße €45")
    assert folded.text == "I’m naïve about Grüße €45" and folded.origins is None


@pytest.mark.parametrize(
    ("typed", "seen"),
    [
        ("４１１１", "4111"),  # full-width digits
        ("٤١١١", "4111"),  # Arabic-Indic digits
        ("۴۱۱۱", "4111"),  # Extended Arabic-Indic digits
        ("४१११", "4111"),  # Devanagari digits
        ("①②", "12"),  # circled digits (NFKC)
        ("4\u200b1\u200c1\u200d1\u2060\ufeff\u00ad", "4111"),  # format characters (Cf)
        ("4\ufe0f\u20e31", "41"),  # keycap emoji digit
        ("1\u00a02\u202f3\u20094\u30005", "1 2 3 4 5"),  # Unicode spaces
        ("1\u20112\u20133\u20144\u22125\u2010" + "6", "1-2-3-4-5-6"),  # dashes and minus
        ("1\u00b72\u20223", "1.2.3"),  # middle dot, bullet
        ("jane＠example．com", "jane@example.com"),
        ("ｊａｎｅ", "jane"),
        ("＋４４", "+44"),
    ],
)
def test_typed_forms_fold_to_what_the_detectors_read(typed: str, seen: str) -> None:
    assert normalise(typed).text == seen


def test_a_span_maps_back_over_the_characters_it_was_folded_from() -> None:
    typed = "x ４\u200b１\u200b１\u200b１ y"
    folded = normalise(typed)
    assert folded.text == "x 4111 y"
    start = folded.text.index("4111")
    assert folded.original_span(start, start + 4) == (2, 9)
    assert typed[2:9] == "４\u200b１\u200b１\u200b１"


def test_invisible_characters_right_after_a_value_go_with_it() -> None:
    typed = "call +44 20 7946 0958\u200b\u200b now"
    result = mask_text(typed, PlaceholderVault.from_json(None, b"k"))
    assert result.text == "call [PHONE_1] now"


def test_a_character_folded_into_several_maps_each_to_itself() -> None:
    typed = "a ⑽ b"  # NFKC: "(10)"
    folded = normalise(typed)
    assert folded.text == "a (10) b"
    assert folded.original_span(3, 5) == (2, 3)


def test_lone_surrogates_and_unassigned_characters_pass_through() -> None:
    assert normalise("a\ud800b\U000e0fffc").text == "a\ud800b\U000e0fffc"
