"""Deterministic choice among overlapping candidates."""

from __future__ import annotations

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
    taken: list[tuple[int, int]] = list(protected)
    chosen: list[Candidate] = []
    for candidate in sorted(candidates, key=_preference):
        if candidate.start >= candidate.end:
            continue
        if any(candidate.start < end and start < candidate.end for start, end in taken):
            continue
        taken.append((candidate.start, candidate.end))
        chosen.append(candidate)
    chosen.sort(key=lambda c: c.start)
    return chosen
