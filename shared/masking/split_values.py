"""Values split over two consecutive messages: "my card is 4111 1111", then "1111 1111".

Neither half is personal data on its own, so each message passes masking alone. When the
previous message may end in the first part of a value, or the new one may start with the
rest (see `may_be_split`), the end of the previous message, as stored, is joined to the
new one and the join is searched: a finding that crosses the join is a split value. Its
two parts get the value's one placeholder, in each message. A finding that only the join
reveals inside the new message ("my SSN is" then "536 22 1234": the label in one, the
value in the next) is masked in the new message too.

A first part that was masked on its own is handled by shared.masking.number_rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.masking.masker import find_candidates
from shared.masking.model import Candidate
from shared.masking.normalise import fold_character, normalise
from shared.masking.number_rest import find_number_rest
from shared.masking.overlap import resolve_overlaps
from shared.masking.placeholders import placeholder_spans

# Enough of each message for the part of any value on its side of the break and the label
# before it (an IBAN with spaces is 42 characters, an email's local part at most 64). The
# search runs inside the write transaction, so it reads no more than that of either.
PREVIOUS_TAIL_CHARS = 120
CURRENT_HEAD_CHARS = 120
# How near the break a digit or an "@" must be for a value to cross it ("gb82 we" then
# "st 1234 5698 7654 32"; "jane.roe@exam" then "ple.com"; "write to jane.roe" then
# "@example.com"). A number's placeholder holds a digit, so one closing the previous
# message counts too (shared.masking.number_rest).
EDGE_CHARS = 24
JOINER = " "


@dataclass(frozen=True)
class SplitMatches:
    """What the join found: the first halves, as spans of the previous message, and the
    findings in the new message (second halves and values only the join revealed)."""

    in_previous: list[Candidate]
    in_current: list[Candidate]
    # (type, key) -> placeholder, for the rest of a value masked in the previous message.
    adopted: dict[tuple[str, str], str]


def may_be_split(previous: str, current: str) -> bool:
    """Whether a value could run from the end of `previous` into the start of `current`:
    cheap, so that most messages skip the search."""
    edges = normalise(previous[-EDGE_CHARS:] + current[:EDGE_CHARS]).text
    return "@" in edges or any(ch.isdigit() for ch in edges)


def find_split_values(previous: str, current: str, extra_patterns: Sequence[Any] = ()) -> SplitMatches:
    """The findings of the end of `previous` joined to `current` that reach into
    `current`, as spans of each message. `previous` is the stored (already masked) text:
    its placeholders are never masked again."""
    tail_start = max(0, len(previous) - PREVIOUS_TAIL_CHARS)
    tail = previous[tail_start:].rstrip()
    lead = _blank_prefix_length(current)
    head = current[lead : lead + CURRENT_HEAD_CHARS]
    # The break between the messages reads as a space, unless a separator is already
    # there ("jane.roe" then "@example.com", "+235" then " - 22 - 50"). Between two
    # alphanumerics it may also have cut a group ("00" then "44 20...", "jane.r" then
    # "oe@example.com"), so no space is tried too when the space found no split value.
    joiners = (JOINER, "") if tail[-1:].isalnum() and head[:1].isalnum() else ("",)
    in_previous: list[Candidate] = []
    in_current: list[Candidate] = []
    for joiner in joiners:
        in_previous, found_in_current = _search_join(tail, joiner, head, extra_patterns)
        in_current = in_current or found_in_current
        if in_previous:
            in_current = found_in_current
            break
    # A value that crosses the break takes in what closes the previous message and what
    # opens the new one (blanks, invisible characters) too.
    in_previous = [_moved(found, tail_start + found.start, len(previous)) for found in in_previous]
    in_current = [_moved(found, 0 if found.start < 0 else lead + found.start, lead + found.end) for found in in_current]
    adopted = {}
    rest = find_number_rest(previous, current, in_current)
    if rest is not None:
        adopted.update({(found.type, found.key): rest.placeholder for found in [*rest.in_previous, *rest.in_current]})
        in_previous += rest.in_previous
        in_current += rest.in_current
    return SplitMatches(in_previous, in_current, adopted)


def _search_join(
    tail: str, joiner: str, head: str, extra_patterns: Sequence[Any]
) -> tuple[list[Candidate], list[Candidate]]:
    """The findings of tail + joiner + head that reach into `head`: the parts in `tail`
    of those that cross the break (spans of `tail`; each runs to its end), and all of them
    as spans of `head` (a start below 0 for those that cross)."""
    joined = tail + joiner + head
    offset = len(tail) + len(joiner)  # where `head` starts in `joined`
    in_tail, in_head = [], []
    for found in resolve_overlaps(find_candidates(joined, extra_patterns), placeholder_spans(joined)):
        if found.end <= offset:
            continue
        in_head.append(_moved(found, found.start - offset, found.end - offset))
        if found.start < len(tail):
            in_tail.append(_moved(found, found.start, len(tail)))
    return in_tail, in_head


def _blank_prefix_length(text: str) -> int:
    """How many characters open `text` that are white space or invisible."""
    for index, ch in enumerate(text):
        if not ch.isspace() and (ch.isascii() or fold_character(ch)):
            return index
    return len(text)


def _moved(candidate: Candidate, start: int, end: int) -> Candidate:
    return Candidate(candidate.type, start, end, candidate.key, candidate.rank)
