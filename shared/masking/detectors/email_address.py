"""EMAIL: addresses of the usual local@domain.tld shape, internationalised ones
("josé@exämple.com", "用户@例子.广告") and quoted local parts ("\"john doe\"@example.com").

ASCII addresses are matched by EMAIL_RE. An "@" that it does not match is looked at again
by walking out from it (`_other_address_at`), with letters and combining marks of every
script allowed; that walk only accepts what EMAIL_RE could not have: an address with a
letter beyond ASCII or a quoted local part.
"""

from __future__ import annotations

import re
import string
import unicodedata

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
MAX_DOMAIN_LENGTH = 253
# Label separators of internationalised domains as typed: the ideographic full stop of CJK
# keyboards besides "." (the full-width and half-width forms are folded to these).
_DOMAIN_DOTS = ".\u3002"
# Quoted local parts, in straight or curly quotes.
_QUOTES = {'"': '"', "\u201d": "\u201c"}


def _is_letter_or_mark(ch: str) -> bool:
    """A letter or digit of any script, or a combining mark (the vowel signs of Indic
    scripts, a decomposed accent), which str.isalnum() and the regex "\\w" leave out."""
    return ch.isalnum() or (not ch.isascii() and unicodedata.category(ch)[0] == "M")


def _is_local_char(ch: str) -> bool:
    return ch in _LOCAL_CHARS or (not ch.isascii() and _is_letter_or_mark(ch))


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


def _quoted_local_start(text: str, closing: int) -> int | None:
    """Where the quoted local part that ends with the quote at `closing` starts: its
    opening quote, on the same line, at most 64 characters back, not inside a word."""
    opening_quote = _QUOTES[text[closing]]
    start = text.rfind(opening_quote, max(0, closing - MAX_LOCAL_LENGTH), closing)
    if start == -1 or start + 1 == closing or "\n" in text[start:closing]:
        return None
    if start > 0 and _is_local_char(text[start - 1]):
        return None
    return start


def _domain_end(text: str, start: int) -> int | None:
    """The end of the domain that starts at `start`: labels of letters, digits, marks and
    hyphens joined by dots, the last (the top-level domain) of letters, or "xn--" and
    letters and digits (punycode); None when there is none."""
    end = start
    limit = min(len(text), start + MAX_DOMAIN_LENGTH)
    while end < limit and (_is_letter_or_mark(text[end]) or text[end] == "-" or text[end] in _DOMAIN_DOTS):
        end += 1
    if end < len(text) and text[end] == "_":  # a longer token, not an address
        return None
    while end > start and (text[end - 1] in _DOMAIN_DOTS or text[end - 1] == "-"):
        end -= 1
    labels = re.split(f"[{_DOMAIN_DOTS}]", text[start:end])
    if len(labels) < 2 or any(not label or label[0] == "-" or label[-1] == "-" for label in labels):
        return None
    tld = labels[-1]
    if tld.lower().startswith("xn--"):
        return end if tld[4:].isalnum() else None
    if len(tld) < 2 or not all(ch.isalpha() or _is_letter_or_mark(ch) and not ch.isdigit() for ch in tld):
        return None
    return end


def _other_address_at(text: str, at: int) -> tuple[int, int, str] | None:
    """(start, end, key) of an address around the "@" at `at` that EMAIL_RE does not
    match: one with letters beyond ASCII, or a quoted local part. In scripts written
    without spaces the walk takes in the words that touch the address too."""
    local_end = at
    while local_end > 0 and at - local_end < MAX_SPACES_BESIDE_AT and text[local_end - 1] == " ":
        local_end -= 1
    quoted = local_end == at and at > 0 and text[at - 1] in _QUOTES
    if quoted:
        start = _quoted_local_start(text, at - 1)
        if start is None:
            return None
    else:
        start = local_end
        while start > 0 and local_end - start < MAX_LOCAL_LENGTH and _is_local_char(text[start - 1]):
            start -= 1
        if start > 0 and _is_local_char(text[start - 1]):  # longer than a local part
            return None
        while start < local_end and text[start] == ".":
            start += 1
        if start == local_end or text[local_end - 1] == ".":
            return None
    domain_start = at + 1
    while domain_start < len(text) and domain_start - at <= MAX_SPACES_BESIDE_AT and text[domain_start] == " ":
        domain_start += 1
    end = _domain_end(text, domain_start)
    if end is None:
        return None
    local, domain = text[start:local_end], text[domain_start:end]
    if not quoted and local.isascii() and domain.isascii():
        return None  # EMAIL_RE's to judge, and it did not take it
    tld = re.split(f"[{_DOMAIN_DOTS}]", domain)[-1].lower()
    spaced = local_end != at or domain_start != at + 1
    if tld in FILE_EXTENSIONS or (spaced and not (len(tld) == 2 or tld in SPACED_TLDS or not tld.isascii())):
        return None
    if quoted:
        local = '"' + local[1:-1] + '"'
    key = unicodedata.normalize("NFC", f"{local}@{domain.replace(chr(0x3002), '.')}").lower()
    return start, end, key


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
        this_at, at = at, text.find("@", at + 1)
        if match is None:
            other = _other_address_at(text, this_at) if this_at >= resume else None
            if other is not None and other[0] >= resume:
                resume = other[1]
                found.append(Candidate("EMAIL", *other, RANK_VALIDATED))
            continue
        resume = match.end()
        if not _is_address(match):
            continue
        key = f"{match.group('local')}@{match.group('domain')}".lower()
        found.append(Candidate("EMAIL", match.start(), match.end(), key, RANK_VALIDATED))
    return found
