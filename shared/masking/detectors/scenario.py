"""Scenario-declared patterns (policy, claim or member numbers in a scenario's own
format). Each pattern has `.name` (the placeholder type, UPPER_SNAKE) and `.regex`. When
the regex has a group named `value`, only that group is masked, so a pattern can match a
label for context and keep it in the text."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from shared.masking.model import RANK_SCENARIO, Candidate
from shared.masking.placeholders import TYPE_NAME_RE

VALUE_GROUP = "value"


@functools.lru_cache(maxsize=256)
def compile_patterns(specs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Compile (name, regex) pairs once per distinct scenario pattern set.

    Raises ValueError for a bad name or regex: silently skipping a pattern would leak the
    data it was written to mask.
    """
    compiled = []
    for name, regex in specs:
        if not TYPE_NAME_RE.fullmatch(name):
            raise ValueError(f"masking pattern name {name!r} must be UPPER_SNAKE_CASE")
        try:
            compiled.append((name, re.compile(regex)))
        except re.error as error:
            raise ValueError(f"masking pattern {name}: invalid regular expression: {error}") from None
    return tuple(compiled)


def as_specs(patterns: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    """The hashable (name, regex) form of pattern objects, used as the cache key."""
    return tuple((pattern.name, pattern.regex) for pattern in patterns)


def detect(text: str, patterns: Sequence[Any]) -> list[Candidate]:
    """Matches of the scenario's patterns; the key is the value without case or spaces."""
    if not patterns:
        return []
    found = []
    for name, pattern in compile_patterns(as_specs(patterns)):
        has_value_group = VALUE_GROUP in pattern.groupindex
        for match in pattern.finditer(text):
            start, end = match.span(VALUE_GROUP) if has_value_group else match.span()
            if start < 0 or start == end:  # optional group unmatched, or an empty match
                continue
            key = "".join(text[start:end].upper().split())
            found.append(Candidate(name, start, end, key, RANK_SCENARIO))
    return found
