"""EMAIL: addresses of the usual local@domain.tld shape."""

from __future__ import annotations

import re
import string

from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import TextFacts

# The domain must end in an alphabetic TLD, which keeps "user@host" chat handles and
# "12@3.4" prices-and-versions noise out; lookarounds stop the match inside longer tokens.
# People also type a space or two on either side of the "@".
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])"
    r"(?P<local>[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?)"
    r"(?P<at>[ ]{0,2}@[ ]{0,2})"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,24}))"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
# Asset names such as "photo@2x.png" have the email shape; these endings are files, not
# top-level domains anyone receives mail on.
FILE_EXTENSIONS = frozenset("png jpg jpeg gif svg webp bmp ico pdf txt json js css html".split())
# With a space beside the "@", "thanks @jane.doe" (a handle, then a word) has the email
# shape too; such an address counts only when its TLD is a country code or one that
# people's mail is commonly on.
SPACED_TLDS = frozenset(
    "com org net edu gov mil int info biz name pro mobi email mail online site xyz app dev "
    "io co ai me tv cc live life world store shop tech cloud".split()
)
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-")
MAX_LOCAL_LENGTH = 64
MAX_SPACES_BESIDE_AT = 2


def _local_part_start(text: str, at: int) -> int:
    """Walk left from the "@" over up to two spaces, then over local-part characters (at
    most 64)."""
    end = at
    while end > 0 and at - end < MAX_SPACES_BESIDE_AT and text[end - 1] == " ":
        end -= 1
    start = end
    while start > 0 and end - start < MAX_LOCAL_LENGTH and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    return start


def _is_address(match: re.Match[str]) -> bool:
    tld = match.group("tld").lower()
    if tld in FILE_EXTENSIONS:
        return False
    return match.group("at") == "@" or len(tld) == 2 or tld in SPACED_TLDS


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Email addresses; the key is lower-cased and without spaces, because mailboxes are
    matched that way. The search starts from each "@" rather than scanning every word of
    the text, so `facts` is not needed."""
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
        if not _is_address(match):
            continue
        key = f"{match.group('local')}@{match.group('domain')}".lower()
        found.append(Candidate("EMAIL", match.start(), match.end(), key, RANK_VALIDATED))
    return found
