"""CARD: payment card numbers, 13-19 digits, optionally grouped with spaces, dashes, dots
or slashes, accepted only when the Luhn check passes and the first digit belongs to a card
network."""

from __future__ import annotations

import re

from stdnum import luhn

from shared.masking.detectors._groups import scan_grouped
from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import TextFacts

# Deliberately wider than a card (up to 23 digits) so that a number followed by, say, a
# CVV is still seen; scan_grouped keeps the longest valid run of groups. Between groups:
# one or two spaces, or a dash, dot or slash with a space either side or none. A run never
# starts inside a decimal ("1.4111...") or a phone number ("+4411...").
_SEPARATOR = r"(?:[ ]{1,2}|[ ]?[\-./][ ]?)"
CARD_CANDIDATE_RE = re.compile(rf"(?<![\d,+])(?<!\d[.])\d(?:{_SEPARATOR}?\d){{12,22}}(?![\d]|[.,]\d)")
# Visa 4, Mastercard 2/5, Amex/Diners/JCB 3, Discover/UnionPay/Maestro 6. Rejecting other
# first digits removes most accidental Luhn passes (timestamps, references starting 1/7/8/9).
NETWORK_FIRST_DIGITS = frozenset("23456")
MIN_DIGITS = 13
MAX_DIGITS = 19
# Printed groupings besides 4-4-4-4(-x): Amex 4-6-5 and Diners 4-6-4.
SPECIAL_GROUPINGS = {(4, 6, 5), (4, 6, 4)}
# Other Luhn-checked numbers (IMEI) and long codes that a label names as something else.
NOT_A_CARD_LABEL_RE = re.compile(
    r"(?i:\b(?:imei|imsi|iccid|serial|s/n|tracking|isbn|ean|upc|barcode|order|invoice)\b"
    r"(?:\s*(?:no\.?|number|#|:))*\s*)$"
)
LABEL_WINDOW = 30


def plausible_grouping(sizes: list[int]) -> bool:
    """True for a single unbroken run, for 4-digit groups with a short last group, for the
    Amex/Diners layouts, or for groups of four digits or more (8+8, 6+10, 4-4-8); phone-like
    3-3-4 groupings and short numbers before a card are rejected."""
    if len(sizes) == 1 or tuple(sizes) in SPECIAL_GROUPINGS:
        return True
    if all(size >= 4 for size in sizes):
        return True
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4


def is_card_number(digits: str) -> bool:
    """Length, network prefix and Luhn checksum of a digits-only card number."""
    return MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits[0] in NETWORK_FIRST_DIGITS and luhn.is_valid(digits)


def _accept(groups: list[str], start: int, end: int) -> bool:
    return plausible_grouping([len(g) for g in groups]) and is_card_number("".join(groups))


def _accept_whole(groups: list[str], start: int, end: int) -> bool:
    # A run of digits that is exactly a valid card is one whatever its grouping ("41 11 11
    # ..."): only the search for a card inside a longer run needs plausible layouts, to
    # keep a phone or a reference next to it out.
    return is_card_number("".join(groups))


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Card numbers; the key is the digits alone so spacing does not matter. Only the
    windows around long numbers are searched."""
    found = []
    regions = (facts or TextFacts(text)).number_regions
    for run in scan_grouped(text, CARD_CANDIDATE_RE, _accept, regions, accept_whole=_accept_whole):
        if NOT_A_CARD_LABEL_RE.search(text, max(0, run[0] - LABEL_WINDOW), run[0]):
            continue
        digits = "".join(ch for ch in text[run[0] : run[1]] if ch.isdigit())
        found.append(Candidate("CARD", run[0], run[1], digits, RANK_VALIDATED))
    return found
