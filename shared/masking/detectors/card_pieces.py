"""CARD, given in pieces: "the first eight are 4111 1111 ... the last eight 1111 1111".

No piece is a card number, and text stands between them, so the card detector sees none.
Here a piece is a run of digit groups of four digits or more (12 digits at most, so that it
is never a whole card), and consecutive pieces (two to four) whose digits, joined in
order, are a card number (13-19 digits, a network's first digit, Luhn-valid) are a card
given in pieces, when the text speaks of a card ("card", "visa", "credit"...) or a piece
follows a word of position ("starts with", "first", "last", "rest"...) shortly. Each piece gets
the card's placeholder, the one the whole number would get.

The same search runs over two consecutive trainee messages (shared.masking.split_cards)
for a card whose first pieces came in the previous message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.masking.detectors.card import LABEL_WINDOW, NOT_A_CARD_LABEL_RE, is_card_number
from shared.masking.model import RANK_LABELLED, Candidate
from shared.masking.prefilter import TextFacts

# Groups of four digits or more, split as the card detector splits them. Not inside a
# word, a decimal, an amount ("$1500") or a phone number ("+44..."): see _starts_a_piece.
# The characters before a match are checked after, so that the pattern starts with its
# digits; over the shape of ASCII text (shared.masking.prefilter) it starts with the
# literal "9999", which the regex engine finds at C speed.
_SEPARATOR = r"(?:[ ]{1,2}|[ ]?[\-./][ ]?)"
PIECE_RE = re.compile(rf"\d{{4,}}(?:{_SEPARATOR}\d{{4,}})*(?!\w|[.,/:]?\d)")
SHAPE_PIECE_RE = re.compile(rb"9999+(?:(?:[ ]{1,2}|[ ]?[\-./][ ]?)9999+)*(?![Aa9_]|[.,/:]?9)")
_NOT_BEFORE_A_PIECE = frozenset("+$€£¥_")
MAX_PIECE_DIGITS = 12
MAX_PIECES = 4
CARD_WORDS = ("card", "visa", "master", "amex", "american express", "discover", "maestro", "credit", "debit")
POSITION_CUE_RE = re.compile(r"(?i:\b(?:starts?|starting|begins?|beginning|ends?|ending|first|last|rest|remaining)\b)")
# How far before a piece its word of position may be ("the last eight digits are ").
CUE_WINDOW = 40


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    end: int
    digits: str


def find_pieces(text: str, facts: TextFacts | None = None) -> list[Piece]:
    """The digit pieces of `text` (folded), left to right."""
    shape = (facts or TextFacts(text)).shape
    spans = (
        [match.span() for match in SHAPE_PIECE_RE.finditer(shape)]
        if len(shape) == len(text)
        else [match.span() for match in PIECE_RE.finditer(text)]
    )
    pieces = []
    for start, end in spans:
        if not _starts_a_piece(text, start):
            continue
        digits = "".join(ch for ch in text[start:end] if ch.isdigit())
        if len(digits) <= MAX_PIECE_DIGITS:
            pieces.append(Piece(start, end, digits))
    return pieces


def _starts_a_piece(text: str, start: int) -> bool:
    """Whether a run of digits at `start` is not the end of a word, an amount, a phone
    number or a decimal ("1.4111")."""
    if start == 0:
        return True
    before = text[start - 1]
    if before.isalnum() or before in _NOT_BEFORE_A_PIECE:
        return False
    return not (before in ".,/" and start > 1 and text[start - 2].isdigit())


def labelled_as_no_card(text: str, piece: Piece) -> bool:
    """Whether a label says what else the piece is ("order 4111 1111", "invoice ...")."""
    return NOT_A_CARD_LABEL_RE.search(text, max(0, piece.start - LABEL_WINDOW), piece.start) is not None


def speaks_of_a_card(lower: str) -> bool:
    """Whether lower-cased text names a card."""
    return any(word in lower for word in CARD_WORDS)


def has_position_cue(text: str, piece: Piece) -> bool:
    """Whether a word of position ("first", "ends with") stands shortly before `piece`."""
    return POSITION_CUE_RE.search(text, max(0, piece.start - CUE_WINDOW), piece.start) is not None


def card_windows(pieces: Sequence[Piece], accept_start: range, accept_end: range) -> list[tuple[int, int, str]]:
    """(first, last, digits): runs of consecutive pieces, first..last inclusive, whose
    joined digits are a card number, the first in `accept_start` and the last in
    `accept_end` (indexes), not overlapping, the longest from each first piece."""
    windows = []
    first = 0
    while first < len(pieces) - 1:
        best = None
        if first in accept_start:
            digits = pieces[first].digits
            for last in range(first + 1, min(len(pieces), first + MAX_PIECES)):
                digits += pieces[last].digits
                if last in accept_end and is_card_number(digits):
                    best = (first, last, digits)
        if best is None:
            first += 1
            continue
        windows.append(best)
        first = best[1] + 1
    return windows


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """The pieces of cards given in pieces in one text; the key is the card's digits."""
    facts = facts or TextFacts(text)
    # Two pieces hold two runs of four digits at least: most texts stop here, unscanned.
    if not facts.has_digit or facts.shape.count(b"9999") < 2:
        return []
    pieces = find_pieces(text, facts)
    if len(pieces) < 2:
        return []
    found = []
    for first, last, digits in card_windows(pieces, range(len(pieces)), range(len(pieces))):
        window = pieces[first : last + 1]
        if any(labelled_as_no_card(text, piece) for piece in window):
            continue
        if speaks_of_a_card(facts.lower) or any(has_position_cue(text, piece) for piece in window):
            found += [Candidate("CARD", piece.start, piece.end, digits, RANK_LABELLED) for piece in window]
    return found
