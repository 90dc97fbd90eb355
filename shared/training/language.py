"""What the judge reads in plain English text beyond its points: whether a match sits
inside a negation, and whether a reply is written as sentences or as a list of keywords.

Both are deliberately simple, deterministic rules (docs/training.md says what they miss).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Words that turn what follows them around: "no need to rotate it", "I can't refund that",
# "don't worry about the spam folder", "we will never ask for your password".
_NEGATOR = re.compile(
    r"(?<![\w'’])(?:not|no|never|nothing|none|without|cannot|"
    r"(?:do|does|did|is|are|was|were|can|could|will|would|should|must|have|has|had|need)n['’]?t|"
    r"won['’]?t|can['’]?t|ain['’]?t|shan['’]?t|don['’]?t)(?![\w'’])",
    re.IGNORECASE,
)
# A negation reaches forward to the end of its clause, at most this many words.
NEGATION_REACH_WORDS = 5
_CLAUSE_BREAK = re.compile(r"[.;:!?()\n]|,\s|\s[-–—]\s|\b(?:but|and|so|then|because|instead|rather)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?", re.IGNORECASE)


def is_negated(text: str, start: int) -> bool:
    """True when the words just before `start` in the same clause negate what starts there.

    "There's no need to rotate it" negates "rotate"; "No problem, rotate it now" does not,
    because the comma ends the negated clause."""
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    words = _WORD.findall(clause)[-NEGATION_REACH_WORDS:]
    return any(_NEGATOR.fullmatch(word) for word in words)


# Words that carry grammar rather than content. Natural English is about half of these;
# a list of keywords has few.
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its it's i i'm i'll i've i'd me my mine you you're
    you'll you've you'd your yours we we're we'll we've our us they them their he she his her
    is are was were be been being am do does did done have has had having will would can could
    should shall may might must to of in on at by for with from into onto about as than then
    so if when while because but and or nor not no yes there here what which who whom whose
    where why how all any some each every both either neither one just also too very really up
    out over under again once only own same such more most other off down let let's get got
    what's that's there's here's who's it'll that'll isn't aren't wasn't weren't don't doesn't
    didn't can't won't wouldn't shouldn't couldn't haven't hasn't hadn't we'd they'd they're
    they've she's he's""".split()
)
# (where natural replies stop, where keyword lists start) for each sign, set on the
# tuning part of eval/feedback/replies.tsv.
FUNCTION_WORD_SHARE = (0.33, 0.20)
SHORT_FRAGMENT_SHARE = (0.50, 0.85)
REPEATED_STEM_SHARE = (0.25, 0.45)
WORDS_PER_POINT = (5.0, 3.0)
CRAMMED_FUNCTION_WORD_SHARE = (0.50, 0.35)
_FRAGMENT_BREAK = re.compile(r"[,.;:!?\n/]+|\s[-–—]\s")


def keyword_list_share(text: str, points_made: int = 0) -> float:
    """0..1: how far `text` reads as a list of keywords rather than sentences.

    Four signs, each scaled from where natural replies stop to where keyword lists start:
    few function words ("Verify, confirm, reset, email"), most fragments one or two words
    long, content words repeated ("check check spam, refund refunded"), and, when the reply
    makes two or more of its line's points, few words per point with few function words
    among them ("not lost, safe, replay resend, 72 hours": a point every three words). The strongest sign wins, and the others
    add to it."""
    words = [word.lower().replace("’", "'") for word in _WORD.findall(text)]
    if not words:
        return 0.0
    function_share = sum(word in FUNCTION_WORDS for word in words) / len(words)
    fragments = [f for f in _FRAGMENT_BREAK.split(text) if _WORD.search(f)]
    short = sum(len(_WORD.findall(f)) <= 2 for f in fragments)
    short_share = short / len(fragments) if len(fragments) >= 4 else 0.0
    # Four letters are a crude stem: refund/refunded, notice/notices, contact/contacts.
    stems = [word[:4] for word in words if word not in FUNCTION_WORDS and len(word) >= 3]
    repeated = 1 - len(set(stems)) / len(stems) if stems else 0.0

    words_per_point = len(words) / points_made if points_made >= 2 else WORDS_PER_POINT[0]
    signs = (
        _scale(function_share, *FUNCTION_WORD_SHARE),
        _scale(short_share, *SHORT_FRAGMENT_SHARE),
        _scale(repeated, *REPEATED_STEM_SHARE),
        # Concise prose makes points quickly too; it still has its function words.
        _scale(words_per_point, *WORDS_PER_POINT) * _scale(function_share, *CRAMMED_FUNCTION_WORD_SHARE),
    )
    remaining = 1.0
    for sign in signs:
        remaining *= 1 - sign
    return 1 - remaining


def _scale(value: float, natural: float, listed: float) -> float:
    """0 at `natural`, 1 at `listed`, linear between (either direction)."""
    share = (value - natural) / (listed - natural)
    return min(1.0, max(0.0, share))


@dataclass(frozen=True)
class Clause:
    """A piece of a reply the judge compares with points: a clause, or a whole sentence of
    several clauses. `negated` is True when a negation turns the clause around, False when
    none does, and None for a whole sentence whose clauses may differ."""

    text: str
    start: int
    negated: bool | None


# Negations that reassure rather than deny: "don't worry, I've sent it" is not a denial.
_REASSURING = re.compile(
    r"\b(?:don['’]?t|do not|no need to|never) (?:worry|panic|fret|mind)\b|\bno (?:worries|problem|trouble)\b|"
    r"\bnot a problem\b|\bnot at all\b|\bno doubt\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;\n]+(?:\s+|$)")
_CLAUSE_SPLIT = re.compile(
    r",\s+(?=(?:but|and|so|because|then|which|though|although|while)\b)|\s+but\s+|\s[-–—]\s|:\s", re.IGNORECASE
)
MIN_CLAUSE_WORDS = 2


def clauses(text: str) -> list[Clause]:
    """The clauses of `text`, and each sentence of more than one clause as a whole."""
    units: list[Clause] = []
    for sentence_text, sentence_start in _pieces(text, _SENTENCE_END, 0):
        parts = [(p, s) for p, s in _pieces(sentence_text, _CLAUSE_SPLIT, sentence_start) if len(_WORD.findall(p)) >= 1]
        for part, start in parts:
            if len(_WORD.findall(part)) >= MIN_CLAUSE_WORDS or len(parts) == 1:
                units.append(Clause(part, start, _is_denial(part)))
        if len(parts) > 1:
            units.append(Clause(sentence_text, sentence_start, None))
    return units


def _pieces(text: str, separator: re.Pattern[str], offset: int) -> list[tuple[str, int]]:
    pieces, start = [], 0
    for match in separator.finditer(text):
        piece = text[start : match.start()]
        if piece.strip():
            pieces.append((piece.strip(), offset + start + (len(piece) - len(piece.lstrip()))))
        start = match.end()
    tail = text[start:]
    if tail.strip():
        pieces.append((tail.strip(), offset + start + (len(tail) - len(tail.lstrip()))))
    return pieces


def _is_denial(clause: str) -> bool:
    """True when the clause's negations (not "don't worry") turn it around: an odd number of
    them ("I can't promise that" is; "I can't say it's not lost" is not)."""
    return negation_count(clause) % 2 == 1


def negation_count(text: str) -> int:
    """How many negations `text` has, leaving out the reassuring ones ("don't worry")."""
    stripped = _REASSURING.sub(" ", text)
    return sum(1 for word in _WORD.findall(stripped) if _NEGATOR.fullmatch(word))


# A quoted sentence: up to . ! ? or a line break, keeping decimals ("2.75%") whole.
_QUOTE_SENTENCE = re.compile(r"(?:[^.!?\n]|[.](?=\d))+[.!?]*")
QUOTE_CHARS = 160


@lru_cache(maxsize=4096)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A scenario pattern (`says`), compiled once, case-insensitive."""
    return re.compile(pattern, re.IGNORECASE)


def sentence_at(text: str, offset: int) -> str:
    """The sentence of `text` around `offset`, on one line and at most QUOTE_CHARS long."""
    for match in _QUOTE_SENTENCE.finditer(text):
        if match.start() <= offset < match.end():
            sentence = " ".join(match.group().split())
            return sentence if len(sentence) <= QUOTE_CHARS else sentence[: QUOTE_CHARS - 1].rstrip() + "…"
    return " ".join(text.split())[:QUOTE_CHARS]
