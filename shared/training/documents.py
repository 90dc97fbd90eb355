"""What the judge reads in a scenario's documents: their sentences, and the rules they set
out as prohibitions ("Never advise the customer to cancel the Direct Debit").

A policy document is where an author of either layout writes what an agent must not do.
Each prohibition becomes a pitfall of the whole scenario (judge.py): a reply clause that
does what the rule forbids, not turned around by a negation, is a wrong act, and the
coaching quotes the rule. Documents are read once per file and process, up to DOCUMENT_CHARS (scenarios load at
start-up; an edited document is read again at the next start).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DOCUMENT_CHARS = 50_000
# At most this many rules per scenario: a long manual is not a list of pitfalls.
MAX_RULES = 40
_BLOCK_START = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+|^\s*#+\s*", re.MULTILINE)
_MARKUP = re.compile(r"[*_`>|]+")
_SENTENCE = re.compile(r"(?:[^.!?]|[.](?=\d))+(?:[.!?]+|$)")
# "Never ...", "Do not ...", "must not ...": what follows is the forbidden act.
# An imperative at the start of a clause ("Never ask", "; do not offer"), or a modal that
# makes any subject's act a rule ("agents must not promise"); "it was never updated" is not.
_PROHIBITION = re.compile(
    r"(?:(?:^|[;:,(]\s*|\b(?:and|or|but)\s+)(?:never|do not|don['’]t)"
    r"|\b(?:must not|must never|mustn['’]t|may not|may never|should not|should never|shouldn['’]t|"
    r"are not allowed to|is not allowed to))\s+(?=[a-z])",
    re.IGNORECASE,
)
# A lead-in line after which each list item is forbidden: "Never:", "Do not do these:". A
# heading that only mentions "never" ("What you must never do") may list instructions.
_PROHIBITION_LEAD = re.compile(r"^(?:never|do not|don['’]t)\b[^.:]{0,30}:\s*$", re.IGNORECASE)
# An act that starts with one of these words is a fragment, not an act ("them back").
_NOT_AN_ACT_START = frozenset({"it", "its", "them", "they", "this", "that", "these", "those", "a", "an", "the", "to"})
_MIN_ACT_WORDS = 3


@dataclass(frozen=True)
class DocumentRule:
    """A forbidden act (`act`, without its negation) and the sentence that forbids it."""

    act: str
    sentence: str


def document_sentences(scenario: Any) -> tuple[str, ...]:
    """Every sentence of the scenario's documents, in order."""
    return _sentences_in(_paths(scenario))


@lru_cache(maxsize=64)
def _sentences_in(paths: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sentence for path in paths for _, block in _blocks(path) for sentence in _sentences(block))


def document_rules(scenario: Any) -> tuple[DocumentRule, ...]:
    """The prohibitions the scenario's documents state, at most MAX_RULES."""
    return tuple(rule for path in _paths(scenario) for rule in _rules_in(path))[:MAX_RULES]


def _paths(scenario: Any) -> tuple[str, ...]:
    filenames = tuple(document.filename for document in getattr(scenario, "documents", ()))
    return _resolved(scenario, str(scenario.folder), filenames) if filenames else ()


_RESOLVED: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}


def _resolved(scenario: Any, folder: str, filenames: tuple[str, ...]) -> tuple[str, ...]:
    """The documents' paths, resolved once per scenario folder (resolving is a system call
    per path component, on every reply otherwise)."""
    key = (folder, filenames)
    if key not in _RESOLVED:
        paths = [scenario.document_path(filename) for filename in filenames]
        _RESOLVED[key] = tuple(str(path) for path in paths if path is not None)
    return _RESOLVED[key]


@lru_cache(maxsize=64)
def _blocks(path: str) -> tuple[tuple[bool, str], ...]:
    """The file's paragraphs, list items and headings, each on one line; True for a list item."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(DOCUMENT_CHARS)
    except OSError:
        return ()
    blocks: list[tuple[bool, str]] = []
    for paragraph in re.split(r"\n\s*\n", text):
        starts = [m.start() for m in _BLOCK_START.finditer(paragraph)] or [0]
        if starts[0] != 0:
            starts.insert(0, 0)
        for begin, end in zip(starts, starts[1:] + [len(paragraph)], strict=True):
            raw = paragraph[begin:end]
            item = bool(re.match(r"\s*(?:[-*+]|\d+[.)])\s+", raw))
            line = " ".join(_MARKUP.sub(" ", _BLOCK_START.sub("", raw, count=1)).split())
            if line:
                blocks.append((item, line))
    return tuple(blocks)


def _sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SENTENCE.findall(text) if len(s.split()) >= 2]


@lru_cache(maxsize=64)
def _rules_in(path: str) -> tuple[DocumentRule, ...]:
    rules: list[DocumentRule] = []
    forbidding_list = False
    for is_item, block in _blocks(path):
        if not is_item:
            forbidding_list = bool(_PROHIBITION_LEAD.search(block))
        elif forbidding_list and not _PROHIBITION.search(block):
            act = _first_clause(block)
            if _is_act(act):
                rules.append(DocumentRule(act, f"Never {act[:1].lower()}{act[1:]}."))
            continue
        for sentence in _sentences(block):
            for match in _PROHIBITION.finditer(sentence):
                act = _first_clause(sentence[match.end() :])
                if _is_act(act):
                    rules.append(DocumentRule(act, sentence))
    return tuple(dict.fromkeys(rules))


def _first_clause(text: str) -> str:
    """The act up to the end of its clause or the next prohibition: "ask for the password"
    from "ask for the password, and never read it back"."""
    clause = re.split(r"[.;:!?()]|\s[-–—]\s", text, maxsplit=1)[0]
    clause = re.split(r",?\s+(?:and|or)\s+(?:never|do not|don['’]t)\b|,\s+(?:never|do not|don['’]t)\b", clause)[0]
    return clause.strip(" ,")


def _is_act(act: str) -> bool:
    words = act.split()
    return len(words) >= _MIN_ACT_WORDS and act[:1].isalpha() and words[0].casefold() not in _NOT_AN_ACT_START
