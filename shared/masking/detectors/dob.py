"""DOB: dates of birth, only when labelled ("DOB: 04/12/1985", "date of birth is 12 March
1985", "born on 1985-03-12"). Unlabelled dates are appointments and deadlines, not
personal data, so they are left alone. The label is kept; only the date is masked."""

from __future__ import annotations

import datetime as dt
import re

from shared.masking.detectors._anchors import anchored_matches
from shared.masking.model import RANK_LABELLED, Candidate
from shared.masking.prefilter import TextFacts

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = r"(?i:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
CUE_WORDS = ("dob", "d.o.b", "date of birth", "birth", "born")
_CUE = (
    r"(?i:\bd\.?o\.?b\b\.?|\bdate\s+of\s+birth\b|\bbirth\s*date\b|\bbirthday\b|"
    r"\bborn\b(?:\s+on)?)"
)
_FILLER = r"(?:\s*(?::|=|-|–|\bis\b|\bwas\b|\bon\b|\bof\b|\bthe\b|'s))*\s*"
_DATE = (
    rf"(?P<iso>(?P<iy>\d{{4}})[-/.](?P<im>\d{{1,2}})[-/.](?P<id>\d{{1,2}}))"
    rf"|(?P<num>(?P<n1>\d{{1,2}})(?P<sep>[-/.])(?P<n2>\d{{1,2}})(?P=sep)(?P<ny>\d{{4}}|\d{{2}}))"
    rf"|(?P<dmy>(?P<dd>\d{{1,2}}){_ORDINAL}(?:\s+of)?\s+(?P<dm>{_MONTH}),?\s+(?P<dy>\d{{4}}|\d{{2}}))"
    rf"|(?P<mdy>(?P<mm>{_MONTH})\s+(?P<md>\d{{1,2}}){_ORDINAL},?\s+(?P<my>\d{{4}}|\d{{2}}))"
)
DOB_RE = re.compile(rf"{_CUE}{_FILLER}(?P<date>{_DATE})(?![\w/]|[-.]\d)")
OLDEST_YEAR = 1900


def _full_year(year: str) -> int:
    if len(year) == 4:
        return int(year)
    # Two-digit years: pick the century that keeps the date in the past.
    short = int(year)
    return 2000 + short if 2000 + short <= dt.date.today().year else 1900 + short


def _as_date(match: re.Match[str]) -> dt.date | None:
    """The calendar date the match names, or None when no such past date exists.
    Numeric dates with both parts <= 12 are read month-first (US style)."""
    try:
        if match.group("iso"):
            year, month, day = int(match["iy"]), int(match["im"]), int(match["id"])
        elif match.group("num"):
            first, second, year = int(match["n1"]), int(match["n2"]), _full_year(match["ny"])
            month, day = (second, first) if first > 12 else (first, second)
        elif match.group("dmy"):
            year, month, day = _full_year(match["dy"]), MONTHS[match["dm"].rstrip(".").lower()], int(match["dd"])
        else:
            year, month, day = _full_year(match["my"]), MONTHS[match["mm"].rstrip(".").lower()], int(match["md"])
        date = dt.date(year, month, day)
    except ValueError:
        return None
    if not OLDEST_YEAR <= date.year or date > dt.date.today():
        return None
    return date


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Labelled dates of birth; the key is the ISO date so "04/12/1985" and "April 12,
    1985" share a placeholder."""
    facts = facts or TextFacts(text)
    if not (facts.has_digit and facts.mentions(CUE_WORDS)):
        return []
    found = []
    for match in anchored_matches(text, DOB_RE, CUE_WORDS):
        date = _as_date(match)
        if date is None:
            continue
        found.append(Candidate("DOB", match.start("date"), match.end("date"), date.isoformat(), RANK_LABELLED))
    return found
