"""ADDRESS: street addresses of the common English forms — a house number, capitalised
street-name words and a street-type word ("221B Baker Street", "1600 Pennsylvania Avenue
NW", "42 Elm St., Apt 5") with an optional unit and "City, ST 12345" tail — and PO boxes.

A lone ZIP code, a city or a street name without a number is not masked: on its own it
does not locate a person.
"""

from __future__ import annotations

import re

from shared.masking.model import RANK_LABELLED, Candidate
from shared.masking.prefilter import TextFacts, finditer_in

# Common street types are accepted in any case ("61 Elm street"); the rarer ones must be
# capitalised so that "20 Dollars way too much" is not an address.
_COMMON_STREET_WORDS = "Street|Avenue|Road|Boulevard|Lane|Drive"
_COMMON_ABBREVIATIONS = "St|Ave|Rd|Blvd|Ln|Dr"
_OTHER_STREET_WORDS = (
    "Court|Place|Terrace|Way|Highway|Parkway|Circle|Square|Close|Crescent|Alley|Row|Trail|"
    "Walk|Gardens|Grove|Mews|Plaza|Crossing|Loop|Pike"
)
_OTHER_ABBREVIATIONS = "Av|Ct|Pl|Ter|Hwy|Pkwy|Cir|Sq|Cres|Trl"
# Abbreviations keep their dot ("St."); a full word never takes the sentence's full stop.
_STREET_TYPE = (
    rf"(?:(?i:{_COMMON_STREET_WORDS})\b|(?:{_OTHER_STREET_WORDS})\b"
    rf"|(?:(?i:{_COMMON_ABBREVIATIONS})|{_OTHER_ABBREVIATIONS})\b\.?)"
)
_HOUSE_NUMBER = r"\d{1,6}[A-Za-z]?(?:-\d{1,5}[A-Za-z]?)?"
_DIRECTION = r"(?:(?:NE|NW|SE|SW|North|South|East|West)\b|[NSEW]\b\.?)"
# Street-name words: capitalised words or ordinals ("5th"). Tokens are joined by single
# spaces, so a sentence break or comma ends the street name.
_NAME_WORD = r"(?:[A-Z][A-Za-z'’\-]*|\d{1,3}(?:st|nd|rd|th))"
_UNIT = (
    r"(?:,?[ \t]+(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm)\b\.?[ \t]*#?[ \t]*[A-Za-z0-9\-]{1,6}\b"
    r"|,?[ \t]+#[ \t]*\d{1,5}\b)"
)
_CITY_STATE_ZIP = r"(?:,[ \t]+[A-Z][a-z]+(?: [A-Z][a-z]+){0,2},?[ \t]+[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?\b)"
STREET_RE = re.compile(
    rf"(?<![\w\-.,/]){_HOUSE_NUMBER}[ \t]+(?:{_DIRECTION}[ \t]+)?(?:{_NAME_WORD}[ \t]+){{1,4}}?"
    rf"{_STREET_TYPE}(?:[ \t]+{_DIRECTION})?{_UNIT}?{_CITY_STATE_ZIP}?"
)
PO_BOX_RE = re.compile(r"\b(?i:p\.?\s?o\.?\s*box)\s+\d{1,6}\b")


def _key(value: str) -> str:
    return " ".join(value.lower().replace(".", " ").replace(",", " ").split())


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Street addresses and PO boxes; the key ignores case, dots and commas. Only the
    windows after a number-then-word are searched."""
    regions = (facts or TextFacts(text)).house_number_regions
    found = []
    for match in finditer_in(STREET_RE, text, regions):
        found.append(Candidate("ADDRESS", match.start(), match.end(), _key(match.group()), RANK_LABELLED))
    for match in finditer_in(PO_BOX_RE, text, regions):
        found.append(Candidate("ADDRESS", match.start(), match.end(), _key(match.group()), RANK_LABELLED))
    return found
