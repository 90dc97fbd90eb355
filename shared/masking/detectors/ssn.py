"""SSN: US social security numbers. The dashed form stands alone; spaced or unbroken
9-digit forms need an SSN word nearby, because bare 9-digit numbers are usually
references. python-stdnum rejects area 000/666/900-999, group 00, serial 0000 and a few
famous published numbers."""

from __future__ import annotations

import re

from stdnum.us import ssn

from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import TextFacts, finditer_in

# The dashes may have a space either side ("536 - 22 - 1234"); after an SSN word, spaces,
# dots and slashes separate too, or nothing does.
DASHED_RE = re.compile(r"(?<![\d\-])(\d{3})[ ]?-[ ]?(\d{2})[ ]?-[ ]?(\d{4})(?![\d]|-\d)")
_LOOSE_SEPARATOR = r"(?:[ ]{1,2}|[ ]?[.\-/][ ]?)?"
LOOSE_RE = re.compile(rf"(?<![\d\-])(\d{{3}}){_LOOSE_SEPARATOR}(\d{{2}}){_LOOSE_SEPARATOR}(\d{{4}})(?!\d|-\d)")
SSN_CUE_RE = re.compile(
    r"(?i:(?:\bssn\b|\bss\s*#|\bsocial(?:\s+security)?\b|\btax\s+id\b|\btin\b)"
    r"(?:\s*(?:no\.?|num\.?|number|#))?[^.\n\d]{0,25})$"
)
CUE_WINDOW = 45


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Social security numbers; the key is the nine digits. Only the windows around long
    numbers are searched."""
    regions = (facts or TextFacts(text)).number_regions
    found = []
    seen = set()
    for match in finditer_in(DASHED_RE, text, regions):
        digits = "".join(match.groups())
        if ssn.is_valid(digits):
            found.append(Candidate("SSN", match.start(), match.end(), digits, RANK_VALIDATED))
            seen.add(match.start())
    for match in finditer_in(LOOSE_RE, text, regions):
        if match.start() in seen:
            continue
        if SSN_CUE_RE.search(text, max(0, match.start() - CUE_WINDOW), match.start()) is None:
            continue
        digits = "".join(match.groups())
        if ssn.is_valid(digits):
            found.append(Candidate("SSN", match.start(), match.end(), digits, RANK_VALIDATED))
    return found
