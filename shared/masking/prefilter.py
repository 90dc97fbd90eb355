"""Cheap facts about a text that decide where detectors need to look.

Every full-text regex pass is costly in CPython (docs/performance.md, Design
measurements), so the common case (no personal data) is decided with C-speed string
operations instead: a bytes translation that turns every digit into "9", every capital
into "A" and every other ASCII letter into "a", then substring tests on that "shape".
Only when a test passes is a region list computed: the windows of the text
around long numbers, dotted quads or house numbers, to which the detectors restrict
their regexes. Each fact is computed at most once per text, and only when asked for.

A fact may say yes when there is nothing to find (the detector then finds nothing), but
must never say no, or leave out a region, where a detector could find something.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from functools import cached_property

_SHAPE_TABLE = bytes.maketrans(
    (string.digits + string.ascii_uppercase + string.ascii_lowercase).encode(),
    b"9" * 10 + b"A" * 26 + b"a" * 26,
)
# Separators that may sit inside a long number ("+44 (0)20 7946-0958").
_NUMBER_SEPARATORS = b" \t-./()+"
LONG_NUMBER_DIGITS = 7
# In the squeezed shape: "42 Elm", "221B Baker", "221b Baker", a tab, "350 5th".
_HOUSE_NUMBER_MARKERS = (b"9 A", b"9A A", b"9a A", b"9\tA", b"9 9aa")

# Region finders, as (pattern over the shape, pattern over the text). For ASCII text the
# shape has the same offsets as the text, and the shape patterns, which start with the
# literal b"9", let the regex engine jump from digit to digit; other text uses the text
# patterns.
LONG_NUMBER_RES = (re.compile(rb"9(?:[ \t\-./()+]{0,3}9){6,}"), re.compile(r"\d(?:[ \t\-./()+]{0,3}\d){6,}"))
DOTTED_QUAD_RES = (re.compile(rb"99{0,2}\.99{0,2}\.99{0,2}\.9"), re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d"))
HOUSE_NUMBER_RES = (re.compile(rb"9[Aa]?[ \t]+[A9]"), re.compile(r"\d[A-Za-z]?[ \t]+[A-Z0-9]"))
# Context kept on each side of a hit: prefixes such as "+1 (" or "GB82 WEST ", and
# suffixes such as " ext. 1234", all fit, and lookarounds see real characters.
NUMBER_MARGIN = 40
ADDRESS_LENGTH = 160

Region = tuple[int, int]


def merge_windows(spans: list[tuple[int, int]], before: int, after: int, length: int) -> list[Region]:
    """Widen each (start, end), given in order, by `before`/`after`, clip to the text and
    merge overlapping windows."""
    merged: list[list[int]] = []
    for start, end in spans:
        low, high = max(0, start - before), min(length, end + after)
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(low, high) for low, high in merged]


def finditer_in(pattern: re.Pattern[str], text: str, regions: list[Region]) -> Iterator[re.Match[str]]:
    """Matches of `pattern` inside each region (lookbehinds still see the whole text)."""
    for low, high in regions:
        yield from pattern.finditer(text, low, high)


class TextFacts:
    """Lazily computed facts about one text."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def shape(self) -> bytes:
        """UTF-8 bytes with digits as b"9", A-Z as b"A" and a-z as b"a"."""
        return self.text.encode("utf-8", "surrogatepass").translate(_SHAPE_TABLE)

    @cached_property
    def squeezed_shape(self) -> bytes:
        """The shape with every run of up to three digits squeezed to one b"9"."""
        return self.shape.replace(b"999", b"9").replace(b"99", b"9")

    def spans_of(self, patterns: tuple[re.Pattern[bytes], re.Pattern[str]]) -> list[tuple[int, int]]:
        """Spans of a region finder's matches, on the shape when offsets agree."""
        shape_pattern, text_pattern = patterns
        if len(self.shape) == len(self.text):
            return [match.span() for match in shape_pattern.finditer(self.shape)]
        return [match.span() for match in text_pattern.finditer(self.text)]

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def has_digit(self) -> bool:
        return b"9" in self.shape

    @cached_property
    def has_long_number(self) -> bool:
        """Seven or more digits in a row once separators are dropped: the least that a
        phone, card or SSN contains, and what nearly every IBAN contains."""
        return self.has_digit and b"9" * LONG_NUMBER_DIGITS in self.shape.translate(None, _NUMBER_SEPARATORS)

    @cached_property
    def number_regions(self) -> list[Region]:
        """Windows around each number of seven or more digits; empty when there is none."""
        if not self.has_long_number:
            return []
        return merge_windows(self.spans_of(LONG_NUMBER_RES), NUMBER_MARGIN, NUMBER_MARGIN, len(self.text))

    @cached_property
    def has_dotted_quad(self) -> bool:
        """Four dot-separated digit runs, as an IPv4 address has."""
        return self.has_digit and b"9.9.9.9" in self.squeezed_shape

    @cached_property
    def dotted_quad_regions(self) -> list[Region]:
        """Windows around each dotted quad; empty when there is none."""
        if not self.has_dotted_quad:
            return []
        return merge_windows(self.spans_of(DOTTED_QUAD_RES), NUMBER_MARGIN, NUMBER_MARGIN, len(self.text))

    @cached_property
    def may_have_ipv6(self) -> bool:
        """A "::" or the seven colons of a full IPv6 address."""
        return "::" in self.text or self.text.count(":") >= 7

    @cached_property
    def may_have_house_number(self) -> bool:
        """A number followed by a capitalised word ("221B Baker", "42 Elm") or by an
        ordinal ("350 5th Ave"), or a PO box."""
        if not self.has_digit:
            return False
        shape = self.squeezed_shape
        return any(marker in shape for marker in _HOUSE_NUMBER_MARKERS) or "box" in self.lower

    @cached_property
    def house_number_regions(self) -> list[Region]:
        """Windows from a little before each number followed by a capitalised word or a
        number, long enough for an address with unit, city, state and ZIP; plus each "box"
        for PO boxes."""
        if not self.may_have_house_number:
            return []
        spans = self.spans_of(HOUSE_NUMBER_RES)
        box = self.lower.find("box")
        while box != -1:
            spans.append((box, box + 3))
            box = self.lower.find("box", box + 1)
        spans.sort()
        return merge_windows(spans, NUMBER_MARGIN, ADDRESS_LENGTH, len(self.text))

    def mentions(self, words: tuple[str, ...]) -> bool:
        """True when any of the lower-case `words` occurs in the lower-cased text."""
        lower = self.lower
        return any(word in lower for word in words)
