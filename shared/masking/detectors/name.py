"""NAME: person names, found only after a cue: an introduction ("my name is Jane Roe",
"this is John", "I'm Jane Roe"), a title ("Dr. Smith"), a greeting ("Hi Jane,") or a
sign-off ("Thanks,\\nJane Roe", "Regards, Jane").

The search runs name-first: capitalised words are cheap to find, most are stopwords
("I'm Sorry", "This is Urgent", "Dear Customer"), and only the few left have the text just
before them compared with the cue phrases. Only the name is masked; the cue stays.
"""

from __future__ import annotations

import re

from shared.masking.detectors.name_stopwords import ORGANISATION_WORDS, STOPWORDS
from shared.masking.model import RANK_CUE, Candidate
from shared.masking.prefilter import TextFacts

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
# "Jane", "McDonald", "O'Brien", "Jean-Luc", "D'Angelo"; all-caps words are excluded
# because shouting ("I'M SORRY") is more common than names in capitals. A possessive "'s"
# is not part of the name ("Mr. Smith's daughter").
# The pattern starts with a plain character class so that the regex engine can skip
# ahead to capitals quickly.
_WORD = (
    rf"[{_UPPER}](?:[’'][{_UPPER}])?[{_LOWER}]+(?:[{_UPPER}][{_LOWER}]+)?"
    rf"(?:[\-’'](?:[{_UPPER}][{_LOWER}]+|[{_LOWER}]{{2,}}))*"
)
_INITIAL = rf"[{_UPPER}]\."
# Runs of capitalised words joined by single spaces (never a line break), with optional
# middle initials: "Jane Q. Roe". Runs may hold cue words too ("Hello Jane").
CAPITALISED_RUN_RE = re.compile(rf"{_WORD}(?:[ ](?:{_INITIAL}[ ])?{_WORD})*")
_TOKEN_RE = re.compile(r"\S+")
MAX_NAME_WORDS = 3
# How far back a cue may start; the longest cue with its spacing fits well inside.
CUE_WINDOW = 40

_INTRODUCTIONS = (
    "my name is", "my name's", "my name’s", "name is", "name:", "this is", "i am", "i'm",
    "i’m", "call me", "named", "speak to", "speak with", "speaking to", "speaking with",
    "spoke to", "spoke with", "talk to", "talk with", "talking to", "talking with",
    "talked to", "talked with", "ask for",
)  # fmt: skip
_TITLES = ("Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Miss")
_GREETINGS = ("hi", "hello", "hey", "dear", "good morning", "good afternoon", "good evening")
_CLOSINGS = (
    "thanks", "thanks so much", "thanks very much", "thanks a lot", "thanks again",
    "thank you", "thank you so much", "thank you very much", "thank you again",
    "many thanks", "regards", "best regards", "kind regards", "warm regards",
    "warmest regards", "best wishes", "best", "cheers", "sincerely", "yours sincerely",
    "yours truly", "respectfully", "cordially", "take care",
)  # fmt: skip


def _cue_suffixes() -> dict[str, tuple[str, ...]]:
    """The endings that the (whitespace-normalised) text before a name may have, per cue
    kind. Introductions need a space; greetings and sign-offs also allow punctuation, and
    sign-offs a line break ("Thanks,\\nJane")."""
    titles = tuple(f"{t}{dot} " for t in _TITLES for dot in ("", "."))
    greetings = tuple(f"{g}{sep}" for g in _GREETINGS for sep in (" ", ", "))
    closing_separators = (" ", ", ", ",\n", "!\n", "! ", ".\n", "\n", " - ", ": ", "-\n", " -\n")
    closings = tuple(f"{c}{sep}" for c in _CLOSINGS for sep in closing_separators)
    return {
        "introduction": tuple(f"{cue} " for cue in _INTRODUCTIONS) + ("name:",),
        "title": titles,
        "greeting": greetings,
        "sign-off": closings,
    }


CUE_SUFFIXES = _cue_suffixes()
# Greetings and sign-offs must be followed by the end of the clause ("Regards, Ruth
# (ruth@...)"), which keeps "Thanks, Great service" and "Hi Team, quick question" out.
NEEDS_CLAUSE_END = frozenset({"greeting", "sign-off"})
CLAUSE_END_RE = re.compile(r"[ \t]*(?:\r?\n|[.,!?;:)(<\-–—]|$)")
_SPACES_RE = re.compile(r"[ \t]+")
# The word before a "name:" / "name is" label.
_NAME_LABEL_RE = re.compile(r"(\w+)[ \-_]?name(?: is|['’]s|:) ?$")
THING_QUALIFIERS = frozenset(
    """
    file product company business brand app device plan user display screen network wifi
    domain host server project team store shop street place model package course event
    tab field folder document item sheet report group channel pet dog cat boat
    """.split()
)


def _normalise(before: str) -> str:
    """Collapse spaces and tabs, and drop them around line breaks, so that cue suffixes
    can be plain strings."""
    collapsed = _SPACES_RE.sub(" ", before)
    return collapsed.replace(" \n", "\n").replace("\n ", "\n")


def _ends_with_word(text: str, suffixes: tuple[str, ...]) -> bool:
    """`text` ends with one of `suffixes` that starts at a word boundary."""
    if not text.endswith(suffixes):
        return False
    for suffix in suffixes:
        if text.endswith(suffix):
            start = len(text) - len(suffix)
            if start == 0 or not text[start - 1].isalnum():
                return True
    return False


def _names_a_thing(lowered: str) -> bool:
    """ "file name: Report", "company name is Acme": the word before "name" says the
    name belongs to something other than a person."""
    match = _NAME_LABEL_RE.search(lowered)
    return match is not None and match.group(1) in THING_QUALIFIERS


def cue_before(text: str, position: int) -> str | None:
    """The kind of cue that ends right at `position`, or None."""
    before = _normalise(text[max(0, position - CUE_WINDOW) : position])
    if _ends_with_word(before, CUE_SUFFIXES["title"]):  # titles are case-sensitive
        return "title"
    lowered = before.lower()
    for kind in ("introduction", "greeting", "sign-off"):
        if _ends_with_word(lowered, CUE_SUFFIXES[kind]):
            if kind == "introduction" and _names_a_thing(lowered):
                return None
            return kind
    return None


def _name_words(words: list[re.Match[str]]) -> list[re.Match[str]]:
    """The leading non-stopword words, at most three, without a dangling initial."""
    kept: list[re.Match[str]] = []
    for word in words:
        if word.group().lower() in STOPWORDS or len(kept) == MAX_NAME_WORDS:
            break
        kept.append(word)
    while kept and kept[-1].group().endswith("."):  # "Jane Q." -> "Jane"
        kept.pop()
    return kept


def detect(text: str, facts: TextFacts | None = None) -> list[Candidate]:
    """Cue-introduced person names; the key is the lower-cased name. `facts` is unused:
    starting from capitalised words is already cheap."""
    found = []
    position = 0
    while (run := CAPITALISED_RUN_RE.search(text, position)) is not None:
        position = run.end()
        run_text = run.group()
        if " " not in run_text and run_text.lower() in STOPWORDS:
            continue  # the common case: "Hello", "The", "Tuesday"
        if run.start() > 0 and (text[run.start() - 1].isalnum() or text[run.start() - 1] in "'’"):
            continue  # the tail of a word such as "iPhone"
        words = list(_TOKEN_RE.finditer(text, run.start(), run.end()))
        # Skip leading stopwords: in "Hello Jane" the cue itself is capitalised.
        first = next((i for i, w in enumerate(words) if w.group().lower() not in STOPWORDS), None)
        if first is None:
            continue
        name = _name_words(words[first:])
        if not name:
            continue
        # Resume after the name so that a later cue in the same run is still seen.
        position = name[-1].end()
        if any(w.group().lower() in ORGANISATION_WORDS for w in words[first:]):
            continue  # "This is Acme Insurance": a company, not a person
        start, end = name[0].start(), name[-1].end()
        kind = cue_before(text, start)
        if kind is None:
            continue
        if kind in NEEDS_CLAUSE_END and CLAUSE_END_RE.match(text, end) is None:
            continue
        key = " ".join(text[start:end].lower().split())
        found.append(Candidate("NAME", start, end, key, RANK_CUE))
    return found
