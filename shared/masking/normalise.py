"""Fold the many ways of typing a value into the one form the detectors know, and map
what they find back to the text as typed.

A card number can be typed with no-break spaces or en dashes between its groups, in
full-width or Arabic-Indic digits, or with zero-width characters inside; an email with a
full-width "＠". The detectors are written for ASCII digits, ASCII spaces and hyphens, so
the text is folded first:

- compatibility forms to their plain form (NFKC): full-width letters, digits and
  punctuation, circled and superscript digits, ligatures;
- every Unicode decimal digit to its ASCII digit;
- invisible format characters (category Cf: zero-width space, joiner and non-joiner, soft
  hyphen, word joiner, byte order mark...) and a few other invisible marks dropped;
- every Unicode space to " " and every dash (en dash, em dash, minus, non-breaking
  hyphen...) to "-"; middle dots and bullets between digits to ".".

NFKC is applied character by character: composing a letter with a following accent does
not matter for any value that is masked, and it keeps the offset map a plain list.
Placeholders then replace the span of the ORIGINAL text, invisible characters included.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters outside category Cf (which is dropped whole): the combining
# grapheme joiner, Hangul and Khmer fillers, variation selectors, and the keycap that
# turns "4" into an emoji digit.
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u20e3\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
)
_VARIATION_SELECTORS_SUPPLEMENT = range(0xE0100, 0xE01F0)
# Dashes that are not in category Pd (which is folded whole).
_DASHES = frozenset("\u2212\u2796\u02d7\u2043")
# Dots typed between digit groups instead of ".".
_DOTS = frozenset("\u00b7\u2022\u2219\u22c5\u30fb\uff65")
_NON_ASCII_RUN_RE = re.compile(r"[^\x00-\x7f]+")
_FOLDED: dict[str, str] = {}  # per character; the alphabet people type in is small


def _fold_plain(ch: str) -> str:
    """One character of an NFKC result: digits, spaces, dashes and dots to ASCII."""
    if ch.isascii():
        return ch
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    category = unicodedata.category(ch)
    if category == "Cf" or ch in _INVISIBLE or ord(ch) in _VARIATION_SELECTORS_SUPPLEMENT:
        return ""
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    if category == "Pd" or ch in _DASHES:
        return "-"
    if ch in _DOTS:
        return "."
    return ch


def fold_character(ch: str) -> str:
    """What the detectors see for one non-ASCII character ("" when it is invisible)."""
    folded = _FOLDED.get(ch)
    if folded is None:
        plain = _fold_plain(ch)
        # A character that is dropped or turned into a separator is not decomposed first:
        # NFKC would turn a no-break space into " " anyway, and leaves dashes alone.
        if plain == ch:
            plain = "".join(map(_fold_plain, unicodedata.normalize("NFKC", ch)))
        folded = _FOLDED[ch] = plain
    return folded


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """The folded text, and where each of its characters came from."""

    text: str
    # Offset in the original text of each character of `text`; None when nothing was
    # folded and the offsets are the same.
    origins: list[int] | None = None
    original_length: int = 0

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` was folded from. It runs
        on over invisible characters right after the last one, so that a value's
        trailing zero-width character does not stay behind on its own."""
        origins = self.origins
        if origins is None:
            return start, end
        original_start = origins[start]
        original_end = origins[end - 1] + 1
        if end < len(origins) and origins[end] > original_end:
            original_end = origins[end]
        elif end == len(origins):
            original_end = self.original_length
        return original_start, original_end


def normalise(text: str) -> NormalisedText:
    """Fold `text` for detection (see the module's docstring). ASCII text, and text whose
    non-ASCII characters all stay as they are (accented letters, curly quotes), is
    returned as it is, without an offset map."""
    if text.isascii():
        return NormalisedText(text)
    pieces: list[str] = []
    origins: list[int] = []
    copied_up_to = 0
    for run in _NON_ASCII_RUN_RE.finditer(text):
        for index in range(run.start(), run.end()):
            ch = text[index]
            folded = fold_character(ch)
            if folded == ch:
                continue
            pieces.append(text[copied_up_to:index])
            origins.extend(range(copied_up_to, index))
            pieces.append(folded)
            origins.extend([index] * len(folded))
            copied_up_to = index + 1
    if not pieces:
        return NormalisedText(text)
    pieces.append(text[copied_up_to:])
    origins.extend(range(copied_up_to, len(text)))
    return NormalisedText("".join(pieces), origins, len(text))
