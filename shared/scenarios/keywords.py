"""Keyword matching used by scenario scripts, the mock customer and the scoring code.

A keyword is one word or a short phrase. `a|b|c` lists alternatives: the keyword is matched
when any one of them occurs. Matching is case-insensitive and on word boundaries, so
`refund` does not match `refunds`: list the forms a good reply really uses
(`refund|refunds|refunded`). Inside a phrase, a space or a hyphen matches any run of
spaces and hyphens, so `follow up` also matches `follow-up` and `follow  up`; a straight
apostrophe also matches a typographic one, so `don't` matches `don’t`.
"""

from __future__ import annotations

import re
from functools import lru_cache

ALTERNATIVE_SEPARATOR = "|"

# Space/hyphen runs inside a keyword; both are treated as one flexible separator.
_SEPARATOR_RUN = re.compile(r"[\s\-]+")
_FLEXIBLE_SEPARATOR = r"[\s\-]+"
_APOSTROPHE = re.escape("'")
_ANY_APOSTROPHE = "['\u2019]"


def keyword_alternatives(keyword: str) -> list[str]:
    """The non-blank alternatives of a keyword (`"a | b"` -> `["a", "b"]`), in order."""
    return [part.strip() for part in keyword.split(ALTERNATIVE_SEPARATOR) if part.strip()]


def _alternative_pattern(alternative: str) -> str:
    alternative = alternative.replace("\u2019", "'")
    words = [word for word in _SEPARATOR_RUN.split(alternative) if word]
    escaped = _FLEXIBLE_SEPARATOR.join(re.escape(word) for word in words)
    return escaped.replace(_APOSTROPHE, _ANY_APOSTROPHE)


@lru_cache(maxsize=4096)
def keyword_regex(keyword: str) -> re.Pattern[str] | None:
    """The compiled regex for a keyword, or None when it has no usable alternative.

    Lookarounds rather than `\\b` keep the boundary right for keywords that start or end
    with punctuation (`c++`, `e-mail`).
    """
    alternatives = keyword_alternatives(keyword)
    if not alternatives:
        return None
    # Longest first so the regex engine prefers the fuller phrase; the result (match or
    # not) is the same, but it keeps any future use of match spans sensible.
    ordered = sorted(alternatives, key=len, reverse=True)
    body = "|".join(_alternative_pattern(alternative) for alternative in ordered)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def keyword_matches(text: str, keyword: str) -> bool:
    """True when `text` contains the keyword (any of its `|` alternatives), case-insensitive,
    on word boundaries."""
    regex = keyword_regex(keyword)
    return regex is not None and regex.search(text) is not None
