"""IBAN: international bank account numbers, with or without spaces, accepted only when
python-stdnum validates the mod-97 checksum and the country's length and layout."""

from __future__ import annotations

import re

from stdnum import iban

from shared.masking.detectors._groups import scan_grouped
from shared.masking.model import RANK_VALIDATED, Candidate
from shared.masking.prefilter import TextFacts

# Country code and check digits, then alphanumeric groups split by a space (or two), a
# dash or a dot; it may run into following words, which scan_grouped trims off.
IBAN_CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:(?:[ ]{1,2}|[\-.])?[A-Za-z0-9]){10,40}(?![A-Za-z0-9])"
)
MIN_LENGTH = 15  # Norway, the shortest
MAX_LENGTH = 34


def _checksum_holds(compact: str) -> bool:
    # The ISO 13616 mod-97 check alone, which is cheap (docs/performance.md, Design
    # measurements): most candidate runs fail it, and only the survivors pay for stdnum's
    # country-layout lookup.
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def _accept(groups: list[str], start: int, end: int) -> bool:
    compact = "".join(groups).upper()
    return (
        MIN_LENGTH <= len(compact) <= MAX_LENGTH
        and compact.isalnum()
        and _checksum_holds(compact)
        and iban.is_valid(compact)
    )


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """IBANs; the key is the compact upper-case form. Only the windows around long numbers
    are searched: account numbers are in practice long digit runs, so an IBAN whose
    account part has no seven digits in a row (possible only where a country allows
    letters in it) is not found."""
    found = []
    for run in scan_grouped(text, IBAN_CANDIDATE_RE, _accept, (facts or TextFacts(text)).number_regions):
        key = "".join(ch for ch in text[run[0] : run[1]] if ch.isalnum()).upper()
        found.append(Candidate("IBAN", run[0], run[1], key, RANK_VALIDATED))
    return found
