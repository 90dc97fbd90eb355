"""IP: IPv4 and IPv6 addresses, validated by the standard library's ipaddress module.

Dotted quads are also how software versions and document sections are written ("version
1.2.3.4", "section 4.2.1.3"), so an IPv4 candidate right after such a word, or glued to a
"v", is not an address.
"""

from __future__ import annotations

import ipaddress
import re

from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import Region, TextFacts, finditer_in

IPV4_RE = re.compile(r"(?<![\w.\-])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\w|-[A-Za-z])")
VERSION_CUE_RE = re.compile(
    r"(?i:\b(?:v|ver|version|release|build|firmware|fw|patch|rev|revision|sdk|api|"
    r"app|update|updated|upgrade|upgraded|install|installed|downgrade|downgraded|"
    r"section|sec|clause|paragraph|para|chapter|article|step|item|figure|fig|table|rule|page)\b"
    r"\.?(?:\s*(?:is|to|was|of|no\.?|number|:|#|=))*\s*)$"
)
VERSION_CUE_WINDOW = 30
# Colon-separated hex (with an optional IPv4 tail); ipaddress decides. Times such as
# 12:30:45 and MAC addresses fail that check.
IPV6_RE = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)"
    r"[0-9A-Fa-f:]{2,39}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?"
    r"(?![\w:]|\.\w)"
)
MIN_IPV6_HEX_CHARS = 4


def _valid_ipv4(value: str) -> bool:
    octets = value.split(".")
    # Leading zeros are rejected: "01.02.03.04" reads as a code, not an address, and
    # ipaddress itself refuses them. A first octet of 0 is no host address either.
    if any(len(o) > 1 and o[0] == "0" for o in octets) or octets[0] == "0":
        return False
    return all(int(o) <= 255 for o in octets)


def _detect_ipv4(text: str, regions: list[Region]) -> list[Candidate]:
    found = []
    for match in finditer_in(IPV4_RE, text, regions):
        value = match.group()
        if not _valid_ipv4(value):
            continue
        start = match.start()
        if VERSION_CUE_RE.search(text, max(0, start - VERSION_CUE_WINDOW), start):
            continue
        found.append(Candidate("IP", start, match.end(), value, RANK_VALIDATED))
    return found


def _detect_ipv6(text: str) -> list[Candidate]:
    found = []
    for match in IPV6_RE.finditer(text):
        value = match.group()
        # "::" or "a::b" on its own is far likelier to be prose or code than an address.
        if sum(ch not in ":." for ch in value) < MIN_IPV6_HEX_CHARS:
            continue
        try:
            address = ipaddress.IPv6Address(value)
        except ValueError:
            continue
        found.append(Candidate("IP", match.start(), match.end(), address.compressed, RANK_VALIDATED))
    return found


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """IP addresses; the key is the canonical (compressed) form. IPv4 is searched only
    around dotted quads, IPv6 only in texts with "::" or seven colons."""
    facts = facts or TextFacts(text)
    found = _detect_ipv4(text, facts.dotted_quad_regions)
    if facts.may_have_ipv6:
        found += _detect_ipv6(text)
    return found
