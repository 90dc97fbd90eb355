"""Value types shared by the detectors, the overlap resolver and the masker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How much a detector's evidence is trusted when two findings overlap. Validated types
# (checksums, parsers) beat author-declared scenario patterns, which beat values found only
# through a nearby label, which beat names found through a conversational cue.
RANK_VALIDATED = 3
RANK_SCENARIO = 2
RANK_LABELLED = 1
RANK_CUE = 0


@dataclass(frozen=True)
class Finding:
    """One masked value: its type, its span in the ORIGINAL text, and its placeholder.

    The value itself is deliberately not kept, so findings are safe to store.
    """

    type: str
    start: int
    end: int
    placeholder: str

    def to_json(self) -> dict[str, Any]:
        """Return the finding as a JSON-serialisable dict (no original value)."""
        return {"type": self.type, "start": self.start, "end": self.end, "placeholder": self.placeholder}


@dataclass
class MaskResult:
    """The masked text and what was replaced in it."""

    text: str
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A detector's proposal before overlaps are resolved.

    `key` is the normalised value (e.g. E.164 phone, digits-only card) so that the same
    value written two ways gets one placeholder; it never leaves the process unhashed.
    """

    type: str
    start: int
    end: int
    key: str
    rank: int

    @property
    def length(self) -> int:
        return self.end - self.start
