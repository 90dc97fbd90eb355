"""Deterministic choice among overlapping candidates."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from shared.masking.model import RANK_VALIDATED, Candidate


def _preference(candidate: Candidate) -> tuple[int, int, int, str]:
    # Higher rank first (validated > scenario > labelled > cue), then the longer span,
    # then the earlier start, then the type name so ties never depend on detector order.
    return (-candidate.rank, -candidate.length, candidate.start, candidate.type)


def resolve_overlaps(
    candidates: Iterable[Candidate], protected: Iterable[tuple[int, int]] = (), *, text: str | None = None
) -> list[Candidate]:
    """Keep a non-overlapping subset, most preferred first, sorted by start.

    `protected` spans (placeholders already in the text) are never masked over, which
    makes masking idempotent. With `text`, what a validated candidate that lost covered
    outside the winners is kept too, as that candidate's type: a phone number that ran on
    into the first group of a card ("+49 30 901820 4111", a possible German number, then
    "1111 1111 1111") loses to the card, but its own digits must not stay behind.
    """
    protected = sorted(protected)
    chosen, lost = _choose(candidates, protected)
    if text is None:
        return chosen
    taken = sorted([*protected, *((c.start, c.end) for c in chosen)])
    leftovers = [part for c in lost if c.rank == RANK_VALIDATED for part in _uncovered_parts(text, c, taken)]
    if not leftovers:
        return chosen
    kept, _ = _choose(leftovers, taken)
    return sorted([*chosen, *kept], key=lambda c: c.start)


def _choose(
    candidates: Iterable[Candidate], protected: list[tuple[int, int]]
) -> tuple[list[Candidate], list[Candidate]]:
    """(chosen sorted by start, the candidates that lost)."""
    # Taken spans never overlap, so kept sorted by start a new span can only collide with
    # its neighbours: a bisection instead of a scan of every span taken so far.
    starts = [start for start, _ in protected]
    ends = [end for _, end in protected]
    chosen: list[Candidate] = []
    lost: list[Candidate] = []
    for candidate in sorted(candidates, key=_preference):
        if candidate.start >= candidate.end:
            continue
        index = bisect_left(starts, candidate.start)
        if (index > 0 and ends[index - 1] > candidate.start) or (index < len(starts) and starts[index] < candidate.end):
            lost.append(candidate)
            continue
        starts.insert(index, candidate.start)
        ends.insert(index, candidate.end)
        chosen.append(candidate)
    chosen.sort(key=lambda c: c.start)
    return chosen, lost


def _uncovered_parts(text: str, candidate: Candidate, taken: list[tuple[int, int]]) -> list[Candidate]:
    """The stretches of `candidate` outside the `taken` spans (sorted, not overlapping),
    less the separators at their ends, that hold a letter or digit."""
    parts = []
    position = candidate.start
    for start, end in [*taken, (candidate.end, candidate.end)]:
        if end <= position or start > candidate.end:
            continue
        low, high = position, min(start, candidate.end)
        while low < high and not text[low].isalnum() and text[low] != "+":
            low += 1
        while high > low and not text[high - 1].isalnum():
            high -= 1
        if low < high:
            parts.append(Candidate(candidate.type, low, high, candidate.key, candidate.rank))
        position = max(position, end)
    return parts
