"""A card given in pieces over two consecutive trainee messages: "it starts with 4111
1111", then "and it ends with 1111 1111".

Text stands between the pieces, so joining the end of one message to the start of the
next (shared.masking.split_values) does not make a card of them. Here the last digit pieces
of the previous message (as stored) and the first of the new one are joined as the card
detector for pieces joins them within a message (shared.masking.detectors.card_pieces):
consecutive pieces, at least one from each message, whose digits are a card number, when
either message speaks of a card or a word of position stands before a piece. Each piece
gets the card's placeholder, in both messages.
"""

from __future__ import annotations

import re

from shared.masking.detectors.card_pieces import (
    MAX_PIECES,
    Piece,
    card_windows,
    find_pieces,
    has_position_cue,
    labelled_as_no_card,
    speaks_of_a_card,
)
from shared.masking.model import RANK_LABELLED, Candidate
from shared.masking.normalise import NormalisedText, normalise
from shared.masking.split_values import SplitMatches

_DIGIT_RE = re.compile(r"\d")


def find_split_card(previous: str, current: str) -> SplitMatches | None:
    """The pieces of a card that runs from `previous` (stored, masked text) into
    `current`, as spans of each; None when there is none."""
    if _DIGIT_RE.search(previous) is None or _DIGIT_RE.search(current) is None:
        return None
    before, after = normalise(previous), normalise(current)
    # A card has at most four pieces, so the last three of one side are all that can reach
    # the other.
    tail = find_pieces(before.text)[-(MAX_PIECES - 1) :]
    head = find_pieces(after.text)[: MAX_PIECES - 1]
    if not tail or not head:
        return None
    pieces = [*tail, *head]
    windows = card_windows(pieces, range(len(tail)), range(len(tail), len(pieces)))
    if not windows:
        return None
    first, last, digits = windows[0]
    in_tail, in_head = pieces[first : len(tail)], pieces[len(tail) : last + 1]
    if any(labelled_as_no_card(before.text, piece) for piece in in_tail) or any(
        labelled_as_no_card(after.text, piece) for piece in in_head
    ):
        return None
    card_named = speaks_of_a_card(before.text.lower()) or speaks_of_a_card(after.text.lower())
    cued = any(has_position_cue(before.text, piece) for piece in in_tail) or any(
        has_position_cue(after.text, piece) for piece in in_head
    )
    if not (card_named or cued):
        return None
    return SplitMatches(
        in_previous=[_candidate(before, piece, digits) for piece in in_tail],
        in_current=[_candidate(after, piece, digits) for piece in in_head],
        adopted={},
    )


def _candidate(folded: NormalisedText, piece: Piece, digits: str) -> Candidate:
    start, end = folded.original_span(piece.start, piece.end)
    return Candidate("CARD", start, end, digits, RANK_LABELLED)
