"""Helpers for values written as separated groups ("4111 1111 1111 1111").

A candidate regex cannot know where a value ends (is the trailing "123" a CVV?) or
starts (is "+44 20 7946 0958 4111 ..." a phone followed by a card?), so detectors split a
match into groups and keep the longest run of whole groups, from the first group, that
passes validation; when none does, the search resumes at the next group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

_GROUP_RE = re.compile(r"[A-Za-z0-9]+")

# accept(groups, start, end) -> bool, for a run of groups text[start:end].
Acceptor = Callable[[list[str], int, int], bool]


def group_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Absolute spans of the alphanumeric groups inside text[start:end]."""
    return [match.span() for match in _GROUP_RE.finditer(text, start, end)]


def longest_valid_prefix(text: str, spans: list[tuple[int, int]], accept: Acceptor) -> tuple[int, int] | None:
    """Absolute (start, end) of the longest run of groups starting at the first group that
    `accept` approves, or None."""
    groups = [text[s:e] for s, e in spans]
    for last in range(len(spans) - 1, -1, -1):
        start, end = spans[0][0], spans[last][1]
        if accept(groups[: last + 1], start, end):
            return start, end
    return None


def scan_grouped(
    text: str,
    candidate_re: re.Pattern[str],
    accept: Acceptor,
    regions: list[tuple[int, int]],
    accept_whole: Acceptor | None = None,
) -> Iterator[tuple[int, int]]:
    """Yield non-overlapping (start, end) runs, left to right, within `regions`.

    Each candidate match is first offered whole to `accept_whole` (when given: a value
    that fills the whole run can be grouped any way), then tried from its first group,
    longest run first, with `accept`; on failure the search restarts after that first
    group, so a valid value that the candidate regex started too early is still found.
    """
    for low, high in regions:
        position = low
        while (match := candidate_re.search(text, position, high)) is not None:
            spans = group_spans(text, match.start(), match.end())
            if not spans:
                position = match.end()
                continue
            whole = spans[0][0], spans[-1][1]
            if accept_whole is not None and accept_whole([text[s:e] for s, e in spans], *whole):
                run: tuple[int, int] | None = whole
            else:
                run = longest_valid_prefix(text, spans, accept)
            if run is not None:
                yield run
                position = run[1]
            else:
                position = spans[0][1]
