"""mask_text: fold the text, run the detectors, resolve overlaps, swap values for vault
placeholders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.masking.detectors import BUILT_IN, scenario
from shared.masking.model import Candidate, Finding, MaskResult
from shared.masking.normalise import NormalisedText, normalise
from shared.masking.overlap import resolve_overlaps
from shared.masking.placeholders import placeholder_spans
from shared.masking.prefilter import TextFacts
from shared.masking.vault import PlaceholderVault


def find_candidates(text: str, extra_patterns: Sequence[Any] = ()) -> list[Candidate]:
    """Every detector's proposals for `text`, overlaps not yet resolved, with spans in
    `text` as given. The detectors read the folded text (shared.masking.normalise) and
    share one TextFacts, so the cheap checks run once per text."""
    folded = normalise(text)
    facts = TextFacts(folded.text)
    candidates: list[Candidate] = []
    for detector in BUILT_IN:
        candidates += detector.detect(folded.text, facts)
    candidates += scenario.detect(folded.text, extra_patterns)
    if folded.origins is None:
        return candidates
    # A scenario's own pattern may be written for the text as typed (a "№" or an en dash
    # in its format), so it also sees that.
    return [_in_original(folded, candidate) for candidate in candidates] + scenario.detect(text, extra_patterns)


def _in_original(folded: NormalisedText, candidate: Candidate) -> Candidate:
    start, end = folded.original_span(candidate.start, candidate.end)
    return Candidate(candidate.type, start, end, candidate.key, candidate.rank)


def mask_text(text: str, vault: PlaceholderVault, extra_patterns: Sequence[Any] = ()) -> MaskResult:
    """Replace personal data in `text` with placeholders such as [EMAIL_1].

    The same value gets the same placeholder for the whole session (the vault is updated
    in place). Finding offsets refer to the original `text`. `extra_patterns` are the
    scenario's own patterns (objects with `.name` and `.regex`).
    """
    return mask_candidates(text, find_candidates(text, extra_patterns), vault)


def mask_candidates(text: str, candidates: list[Candidate], vault: PlaceholderVault) -> MaskResult:
    """mask_text's second half, for a caller that ran find_candidates first (and skipped
    loading the vault when there was nothing to mask)."""
    if not candidates:
        return MaskResult(text=text, findings=[])
    chosen = resolve_overlaps(candidates, placeholder_spans(text), text=text)
    pieces: list[str] = []
    findings: list[Finding] = []
    cursor = 0
    for candidate in chosen:
        placeholder = vault.placeholder_for(candidate.type, candidate.key)
        pieces.append(text[cursor : candidate.start])
        pieces.append(placeholder)
        findings.append(Finding(candidate.type, candidate.start, candidate.end, placeholder))
        cursor = candidate.end
    pieces.append(text[cursor:])
    return MaskResult(text="".join(pieces), findings=findings)
