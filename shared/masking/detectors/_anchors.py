"""Find where label words occur with plain substring search, so that a label-led regex
is tried only there (with `match`) instead of scanning the whole text."""

from __future__ import annotations

import re
from collections.abc import Iterator


def label_positions(lower: str, words: tuple[str, ...]) -> list[int]:
    """Sorted offsets in the lower-cased text where one of the lower-case `words` starts."""
    positions = set()
    for word in words:
        start = lower.find(word)
        while start != -1:
            positions.add(start)
            start = lower.find(word, start + 1)
    return sorted(positions)


def anchored_matches(text: str, pattern: re.Pattern[str], words: tuple[str, ...]) -> Iterator[re.Match[str]]:
    """Non-overlapping matches of `pattern` that start where one of `words` starts.

    Lower-casing a few non-ASCII letters changes the text's length, which would shift the
    offsets; such texts are scanned in full instead.
    """
    lower = text.lower()
    if len(lower) != len(text):
        yield from pattern.finditer(text)
        return
    end_of_last = 0
    for position in label_positions(lower, words):
        if position < end_of_last:
            continue
        match = pattern.match(text, position)
        if match is not None:
            end_of_last = match.end()
            yield match
