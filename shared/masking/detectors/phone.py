"""PHONE: international numbers written with a leading + (or 00), checked with
libphonenumber, and North American numbers written in their usual grouped forms.

Bare digit runs are only phones when a phone word sits just before them, so that order
numbers, 9-digit references and timestamps stay unmasked.
"""

from __future__ import annotations

import re

import phonenumbers

from shared.masking.detectors._groups import group_spans, longest_valid_prefix
from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import Region, TextFacts, finditer_in

# Between groups: one or two spaces, or a dot, dash or slash with a space either side or
# none ("+49 30/901820", "555 - 123 - 4567").
_SEPARATOR = r"(?:[ ]{1,2}|[ ]?[.\-/][ ]?)"
# "+44 20 7946 0958", "+44 (0)20 7946 0958", "+1-202-555-0143", "0044 20 7946 0958",
# "00 44 20 7946 0958", "+ 44 20 7946 0958".
INTERNATIONAL_RE = re.compile(
    rf"(?<![\w+])(?:\+|\b00)[ ]?[1-9]\d{{0,3}}"
    rf"(?:{_SEPARATOR}?\(\d{{1,4}}\)|{_SEPARATOR}?\d{{1,6}}){{1,7}}"
    r"(?!\d)"
)
# "(555) 123-4567", "555-123-4567", "555.123.4567", "1-555-123-4567". The area code must
# start 2-9 (NANP rule); the exchange is not checked because fictional numbers such as
# (555) 123-4567 are what trainees type.
NORTH_AMERICAN_RE = re.compile(
    r"(?<![\w+])(?<!\d[.\-/])"
    rf"(?:1{_SEPARATOR}?)?"
    rf"(?:\(([2-9]\d\d)\){_SEPARATOR}?|([2-9]\d\d){_SEPARATOR})"
    rf"(\d{{3}}){_SEPARATOR}(\d{{4}})"
    r"(?!(?!x\d)\w|[.\-/]\d)"  # a glued extension ("4567x89") may follow
)
# A number typed one digit at a time: "5 5 5 1 2 3 4 5 6 7", "0 7 9 1 1 1 2 3 4 5 6",
# "5-5-5-...". Nobody writes other numbers that way, so no phone word is needed; the run
# must be whole (no digit group before or after it) and a phone's length (see
# _spaced_digits_key).
SPACED_DIGITS_RE = re.compile(
    r"(?<![\w+])(?<!\d[ .\-])(?<!\d[ .\-][ ])"
    r"\d(?:(?:[ ]|[ ]?[.\-][ ]?)\d){6,14}"
    r"(?!\w|[ ]?[.\-]?[ ]?\d)"
)
BARE_TEN_DIGITS_RE = re.compile(r"(?<![\w+.\-])([2-9]\d{9})(?![\w]|[.\-]\d)")
PHONE_CUE_RE = re.compile(
    r"(?i:\b(?:phone|tel|telephone|cell|mobile|call|text|reach|whatsapp|contact)\b[^.\n\d]{0,20})$"
)
EXTENSION_RE = re.compile(r"\s*,?\s*(?i:ext\.?|extension|x)\s*(\d{1,6})(?!\w)")
# Niue and Tokelau numbers have seven digits with their country code.
MIN_DIGITS = 7
MAX_DIGITS = 15


def _with_extension(text: str, end: int, key: str) -> tuple[int, str]:
    """Extend a phone's span over a following extension ("ext. 89")."""
    match = EXTENSION_RE.match(text, end)
    if match is None:
        return end, key
    return match.end(), f"{key};ext={match.group(1)}"


def _international_key(value: str) -> str | None:
    """E.164 form of an international number, or None when libphonenumber says it is
    not a possible number for its country code."""
    if value.startswith("00"):
        value = "+" + value[2:]
    value = "+" + value[1:].lstrip()
    digits = sum(ch.isdigit() for ch in value)
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _international_at(text: str, match: re.Match[str]) -> Candidate | None:
    """The longest run of the match's digit groups that libphonenumber accepts."""
    keys: dict[tuple[int, int], str] = {}

    def accept(groups: list[str], start: int, end: int) -> bool:
        # The value starts at the "+" (or "00"), before the first digit group.
        key = _international_key(text[match.start() : end])
        if key is not None:
            keys[(start, end)] = key
        return key is not None

    run = longest_valid_prefix(text, group_spans(text, match.start(), match.end()), accept)
    if run is None:
        return None
    end, key = _with_extension(text, run[1], keys[run])
    return Candidate("PHONE", match.start(), end, key, RANK_VALIDATED)


def _detect_international(text: str, regions: list[Region]) -> list[Candidate]:
    found = []
    for low, high in regions:
        position = low
        # Every "+" or "00" is tried, even inside a number already accepted: a number that
        # libphonenumber accepts can run on into the next one ("+49 30 901820 0044", then
        # "20 7946 0958"). The overlaps are resolved with the other findings.
        while (match := INTERNATIONAL_RE.search(text, position, high)) is not None:
            candidate = _international_at(text, match)
            position = match.start() + 1
            if candidate is not None:
                found.append(candidate)
    return found


def _spaced_digits_key(digits: str) -> str | None:
    """The key of a number typed one digit at a time: North American (ten digits, area
    code 2-9, maybe after a 1) in E.164, or a national number with its trunk 0 (ten or
    eleven digits: "07911 123456", "06 12 34 56 78") as typed, since its country is not
    known. Other lengths are not taken: nine digits or fewer are too common in lists, and a
    card typed that way is the card detector's. A count ("9 8 7 6 5 4 3 2 1 0") is none."""
    steps = {int(b) - int(a) for a, b in zip(digits, digits[1:], strict=False)}
    if steps in ({1}, {-1}):
        return None
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) == 10 and digits[0] in "23456789":
        return "+1" + digits
    if len(digits) in (10, 11) and digits[0] == "0" and digits[1] != "0":
        return "national:" + digits
    return None


def _detect_spaced_digits(text: str, regions: list[Region]) -> list[Candidate]:
    found = []
    for match in finditer_in(SPACED_DIGITS_RE, text, regions):
        key = _spaced_digits_key("".join(ch for ch in match.group() if ch.isdigit()))
        if key is not None:
            found.append(Candidate("PHONE", match.start(), match.end(), key, RANK_VALIDATED))
    return found


def _detect_north_american(text: str, regions: list[Region]) -> list[Candidate]:
    found = []
    for match in finditer_in(NORTH_AMERICAN_RE, text, regions):
        area = match.group(1) or match.group(2)
        key = f"+1{area}{match.group(3)}{match.group(4)}"
        end, key = _with_extension(text, match.end(), key)
        found.append(Candidate("PHONE", match.start(), end, key, RANK_VALIDATED))
    for match in finditer_in(BARE_TEN_DIGITS_RE, text, regions):
        if PHONE_CUE_RE.search(text, max(0, match.start() - 40), match.start()) is None:
            continue
        end, key = _with_extension(text, match.end(), "+1" + match.group(1))
        found.append(Candidate("PHONE", match.start(), end, key, RANK_VALIDATED))
    return found


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Phone numbers; the key is E.164 (plus extension) so formatting does not matter.
    Only the windows around long numbers are searched."""
    regions = (facts or TextFacts(text)).number_regions
    if not regions:
        return []
    found = _detect_north_american(text, regions) + _detect_spaced_digits(text, regions)
    if "+" in text or "00" in text:
        found += _detect_international(text, regions)
    return found
