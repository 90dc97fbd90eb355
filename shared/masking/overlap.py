"""Deterministic choice among overlapping candidates."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from shared.masking.model import Candidate


def _preference(candidate: Candidate) -> tuple[int, int, int, str]:
    # Higher rank first (validated > scenario > labelled > cue), then the longer span,
    # then the earlier start, then the type name so ties never depend on detector order.
    return (-candidate.rank, -candidate.length, candidate.start, candidate.type)


def resolve_overlaps(
    candidates: Iterable[Candidate], protected: Iterable[tuple[int, int]] = ()
) -> list[Candidate]:
    """Keep a non-overlapping subset, most preferred first, sorted by start.

    `protected` spans (placeholders already in the text) are never masked over, which
    makes masking idempotent.
    """
    # Taken spans never overlap, so kept sorted by start a new span can only collide with
    # its neighbours: a bisection instead of a scan of every span taken so far.
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(protected):
        index = bisect_left(starts, start)
        starts.insert(index, start)
        ends.insert(index, end)
    chosen: list[Candidate] = []
    for candidate in sorted(candidates, key=_preference):
        if candidate.start >= candidate.end:
            continue
        index = bisect_left(starts, candidate.start)
        if index > 0 and ends[index - 1] > candidate.start:
            continue
        if index < len(starts) and starts[index] < candidate.end:
            continue
        starts.insert(index, candidate.start)
        ends.insert(index, candidate.end)
        chosen.append(candidate)
    chosen.sort(key=lambda c: c.start)
    return chosen
