"""EMAIL: addresses of the usual local@domain.tld shape."""

from __future__ import annotations

import re
import string

from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import TextFacts

# The domain must end in an alphabetic TLD, which keeps "user@host" chat handles and
# "12@3.4" prices-and-versions noise out; lookarounds stop the match inside longer tokens.
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])"
    r"[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
# Asset names such as "photo@2x.png" have the email shape; these endings are files, not
# top-level domains anyone receives mail on.
FILE_EXTENSIONS = frozenset("png jpg jpeg gif svg webp bmp ico pdf txt json js css html".split())
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-")
MAX_LOCAL_LENGTH = 64


def _local_part_start(text: str, at: int) -> int:
    """Walk left from the "@" over local-part characters (at most 64)."""
    start = at
    while start > 0 and at - start < MAX_LOCAL_LENGTH and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    return start


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Email addresses; the key is lower-cased because mailboxes are matched that way.
    The search starts from each "@" rather than scanning every word of the text, so
    `facts` is not needed."""
    found = []
    resume = 0
    at = text.find("@")
    while at != -1:
        start = _local_part_start(text, at)
        # The local part may not start with a dot; skip any the walk took in.
        while start < at and text[start] == ".":
            start += 1
        match = EMAIL_RE.match(text, start) if start >= resume else None
        at = text.find("@", at + 1)
        if match is None:
            continue
        resume = match.end()
        value = match.group()
        if value.rsplit(".", 1)[1].lower() in FILE_EXTENSIONS:
            continue
        found.append(Candidate("EMAIL", match.start(), match.end(), value.lower(), RANK_VALIDATED))
    return found
