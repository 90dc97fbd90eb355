"""ACCOUNT: account, policy, claim, member and customer numbers, only when labelled
("account number: 12345678", "policy no. AB-123456"). The label stays in the text; only
the identifier is masked. Order numbers are deliberately not labels: they identify a
purchase, not a person."""

from __future__ import annotations

import re

from shared.masking.detectors._anchors import anchored_matches
from shared.masking.model import RANK_LABELLED, Candidate
from shared.masking.prefilter import TextFacts

LABEL_WORDS = ("account", "acct", "a/c", "policy", "claim", "member", "customer", "subscriber")
_LABEL = r"(?i:\b(?:account|acct|a/c|policy|claim|member(?:ship)?|customer|subscriber)\b)"
_KIND = r"(?:[ \t]*(?i:number|num|no|nr|id|ref|reference)\b\.?|[ \t]*#)?"
_FILLER = r"(?:[ \t]*(?::|#|=|-|(?i:is|ending[ \t]+in|ends[ \t]+in)\b))*[ \t]*"
# Dash- or slash-joined parts whose first part holds a digit ("cust_88412", "12-345") or is
# an upper-case code ("AB-123456"), then optional space-joined digit blocks ("1234 5678
# 9012"). The value must start right after the label, so prose ("member since 2019") and
# placeholders ("[ACCOUNT_1]") are never taken.
_FIRST_PART = r"(?:(?=[A-Za-z_]*\d)\w+|[A-Z][A-Z0-9_]*)"
_VALUE = rf"(?P<value>{_FIRST_PART}(?:[\-/]\w+)*(?:[ ]\d{{2,}}(?![\w\-]))*)(?![\w\-])"
ACCOUNT_RE = re.compile(_LABEL + _KIND + _FILLER + _VALUE)
MIN_VALUE_CHARS = 4  # "account ending in 7788" still identifies the account
MIN_VALUE_DIGITS = 3
YEAR_RE = re.compile(r"(?:19|20)\d\d")


def _looks_like_identifier(value: str) -> bool:
    """At least four characters with three digits, and not a year: rules out
    "account 2023 statement" and "claim 12"."""
    digits = sum(ch.isdigit() for ch in value)
    return len(value) >= MIN_VALUE_CHARS and digits >= MIN_VALUE_DIGITS and not YEAR_RE.fullmatch(value)


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Labelled account-style identifiers; the key drops separators and case."""
    if not (facts or TextFacts(text)).mentions(LABEL_WORDS):
        return []
    found = []
    for match in anchored_matches(text, ACCOUNT_RE, LABEL_WORDS):
        start = match.start("value")
        # Each space-joined block also ends a shorter alternative: in "account 12345678 42
        # Elm St." the longer reading overlaps the address, and the resolver then falls
        # back to "12345678" instead of masking no account at all.
        ends = [start + m.start() for m in re.finditer(" ", match.group("value"))] + [match.end("value")]
        for end in ends:
            value = text[start:end]
            if not _looks_like_identifier(value):
                continue
            key = "".join(ch for ch in value.upper() if ch.isalnum())
            found.append(Candidate("ACCOUNT", start, end, key, RANK_LABELLED))
    return found
