"""A scenario's fiction: the values the scenario itself declares (the persona's name, and
the emails, phone and account numbers written in its persona, situation and script) are
made up for training, not anyone's personal data. They reach the trainee as written and
the trainee may repeat them back unmasked: a trainee asked to verify an account must be
able to read its number. Everything else is masked as before, the trainee's own data
included.

A value is fiction when a detector finds it in the scenario's text with the same type and
normalised key (the key that gives a value its placeholder), so "ACC-204518" typed as
"acc 204518" is still recognised as the scenario's. The persona's name, and each word of
it, counts as a NAME without needing a cue."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from shared.masking.masker import find_candidates
from shared.masking.model import Candidate

_WORD_RE = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


class MaskingRules(tuple):
    """A scenario's masking patterns (a tuple, as every masking call takes them) that also
    carry the scenario's fiction: the (type, key) pairs never to mask."""

    fiction: frozenset[tuple[str, str]] = frozenset()

    def __new__(cls, patterns: Iterable[Any] = (), fiction: Iterable[tuple[str, str]] = ()) -> MaskingRules:
        rules = super().__new__(cls, patterns)
        rules.fiction = frozenset(fiction)
        return rules


def fiction_keys(
    texts: Iterable[str], names: Iterable[str], patterns: Sequence[Any] = ()
) -> frozenset[tuple[str, str]]:
    """The (type, key) of every value found in the scenario's `texts`, plus the persona's
    `names` (whole, and word by word) as NAME values."""
    keys: set[tuple[str, str]] = set()
    for text in texts:
        if text:
            keys.update((candidate.type, candidate.key) for candidate in find_candidates(text, patterns))
    for name in names:
        words = [word.lower() for word in _WORD_RE.findall(name or "") if len(word) > 1]
        if words:
            keys.add(("NAME", " ".join(words)))
            keys.update(("NAME", word) for word in words)
    return frozenset(keys)


def without_fiction(candidates: list[Candidate], patterns: Sequence[Any]) -> list[Candidate]:
    """The candidates that are not the scenario's fiction (all of them for plain patterns)."""
    fiction = getattr(patterns, "fiction", None)
    if not fiction:
        return candidates
    return [candidate for candidate in candidates if (candidate.type, candidate.key) not in fiction]
