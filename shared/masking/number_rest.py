"""The rest of a number whose first part was already masked in the previous message.

When the first part of a number split over two messages was a whole value by itself
("+49 30 1234", a possible German number, then "5678"), or held one ("FR03 0020 9896 00",
where "0020 9896 00" is an Egyptian number, then the rest of the IBAN), it was masked when
it arrived and a search across the break can no longer see its digits. So digits that open
the new message, right after a number's placeholder that closes the previous one, are
taken as its rest and get that placeholder, and so do the groups left beside the
placeholder in the previous message.

That also masks a number that merely starts the next message ("...[PHONE_1]", then "2
more things"): a small loss of text, against the rest of a number stored raw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.masking.model import RANK_CUE, Candidate
from shared.masking.normalise import NormalisedText, normalise

NUMBER_TYPES = ("PHONE", "CARD", "IBAN", "SSN", "ACCOUNT", "IP")
# Enough of the previous message for the longest number written with separators.
TAIL_CHARS = 80
_SEPARATOR = r"(?:[ ]{1,2}|[ ]?[\-./][ ]?)"
_DIGIT_GROUPS = rf"\d(?:{_SEPARATOR}?\d)*"
_NUMBER_PLACEHOLDER = rf"\[(?:{'|'.join(NUMBER_TYPES)})_[1-9]\d*\]"
_NUMBER_PLACEHOLDER_RE = re.compile(_NUMBER_PLACEHOLDER)
# A number's placeholder closing a message, maybe with digits the detector left after it.
# (A phone's first part in dots can be an IPv4 address: "+211.181.234.5", then "67".)
_CLOSING_RE = re.compile(
    rf"(?P<placeholder>\[(?P<type>{'|'.join(NUMBER_TYPES)})_[1-9]\d*\])"
    rf"(?P<after>{_SEPARATOR}?{_DIGIT_GROUPS})?[ ]?[\-./]?\s*$"
)
# Groups right before it: each holds a digit or is another number's placeholder, and
# may be followed by a code of letters ("GB82 WEST").
_NUMBER_GROUP = rf"(?:[A-Za-z]{{0,4}}\d[A-Za-z0-9]*|{_NUMBER_PLACEHOLDER})"
_BEFORE_RE = re.compile(rf"(?<![\w+\]])\+?(?:{_NUMBER_GROUP}{_SEPARATOR}(?:[A-Za-z]{{2,4}}{_SEPARATOR})?)+$")
# Digit groups opening a message, maybe after a separator ("-5678").
_OPENING_RE = re.compile(rf"\s*(?:[\-./]\s*)?(?P<digits>{_DIGIT_GROUPS})")


@dataclass(frozen=True)
class NumberRest:
    """The placeholder closing the previous message, and the spans that get it too."""

    placeholder: str
    in_previous: list[Candidate]
    in_current: list[Candidate]


def find_number_rest(previous: str, current: str, found_in_current: list[Candidate]) -> NumberRest | None:
    """The rest of the number closing `previous` (stored, masked text) that `current`
    opens with, if any. A value found in `current` on its own (`found_in_current`) keeps
    its own placeholder: the rest is what is left around it."""
    tail_start = max(0, len(previous) - TAIL_CHARS)
    tail = normalise(previous[tail_start:])
    closing = _CLOSING_RE.search(tail.text)
    if closing is None:
        return None
    head = normalise(current)
    opening = _OPENING_RE.match(head.text)
    if opening is None:
        return None
    placeholder, type_name = closing.group("placeholder"), closing.group("type")
    key = f"rest of {placeholder}"

    def candidate(start: int, end: int) -> Candidate:
        return Candidate(type_name, start, end, key, RANK_CUE)

    in_previous = [candidate(tail_start + start, tail_start + end) for start, end in _beside(tail, closing)]
    opening_end = head.original_span(*opening.span("digits"))[1]
    in_current = [candidate(start, end) for start, end in _gaps(current, opening_end, found_in_current)]
    return NumberRest(placeholder, in_previous, in_current)


def _gaps(text: str, end: int, taken: list[Candidate]) -> list[tuple[int, int]]:
    """The parts of text[:end] outside the `taken` spans; the first keeps what opens the
    text (blanks, invisible characters, a separator), the others lose their separators."""
    gaps, start = [], 0
    for span in sorted((c.start, c.end) for c in taken if c.start < end):
        if span[0] > start:
            gaps.append((start, span[0]))
        start = max(start, span[1])
    if start < end:
        gaps.append((start, end))
    gaps = [gap for gap in gaps if any(ch.isalnum() for ch in text[gap[0] : gap[1]])]
    return [gap if gap[0] == 0 else _without_separators(text, *gap) for gap in gaps]


def _beside(tail: NormalisedText, closing: re.Match[str]) -> list[tuple[int, int]]:
    """Spans of the tail (as stored) of the groups left beside the closing placeholder,
    between any other placeholders there."""
    spans = []
    before = _BEFORE_RE.search(tail.text, 0, closing.start())
    if before is not None:
        start = before.start()
        for other in _NUMBER_PLACEHOLDER_RE.finditer(tail.text, start, before.end()):
            spans.append((start, other.start()))
            start = other.end()
        spans.append((start, before.end()))
    if closing.group("after"):
        spans.append(closing.span("after"))
    trimmed = [_without_separators(tail.text, start, end) for start, end in spans]
    return [tail.original_span(start, end) for start, end in trimmed if start < end]


def _without_separators(text: str, start: int, end: int) -> tuple[int, int]:
    """The span less the separators at its ends (a leading "+" stays)."""
    while start < end and not (text[start].isalnum() or text[start] == "+"):
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return start, end
