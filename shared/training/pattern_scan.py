"""Whether any of a scenario's patterns (`says`, case-insensitive) occurs in a reply: the
question the judge asks of every pitfall, for every reply, where most replies contain none.

Python's `re` backtracks through the patterns at every position of the text; the built-in
tone pitfall alone (47 patterns) took 0.4 ms a reply that way, even joined into one
pattern. RE2 (`google-re2`, Google's bindings to its automaton engine) reads the same
patterns in one pass, in about 5 µs (docs/performance.md, Design measurements). It only
answers "does any occur": where a pattern does, the judge finds and quotes the match with
`re` as before (`compiled_pattern`), so RE2 never decides what a hit is.

RE2 is asked only where it reads a pattern as `re` does: not for what it cannot compile
(lookarounds, backreferences, `(?x)`), not for the few forms it compiles with another
meaning (`_READ_OTHERWISE`), and only on text whose letters, digits and spaces are ASCII,
where its ASCII `\\b`, `\\w`, `\\d` and `\\s` agree with Python's Unicode ones.
Everything else goes to `re`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import re2

from shared.training.language import compiled_pattern

# A backreference or a named group ties a pattern to its own group numbers and names,
# which joining it with others would change.
_OWN_GROUPS = re.compile(r"\\[1-9]|\\g<|\(\?P[<=]|\(\?<(?![=!])")
# Forms RE2 compiles but reads otherwise than `re`: `$` (re also matches before a final
# line break), `[:alpha:]` (a POSIX class to RE2, a set of letters to re), `{,3}` (a
# repeat to re, the characters themselves to RE2).
_READ_OTHERWISE = re.compile(r"\$|\[:|\{,")
# Characters that `re` counts as letters, digits or space and RE2 does not: letters and
# digits beyond ASCII ("é", so `\b` and `\w` differ next to them), spaces beyond ASCII
# and a few ASCII controls. Text with none of them (a "£", "€" or "’" is fine) reads alike.
_ODD_SPACE = re.compile(r"[\x0b\x1c-\x1f]")
_READ_OTHERWISE_TEXT = re.compile(r"[\x0b\x1c-\x1f]|(?![\x00-\x7f])[\w\s]")

_AUTOMATON_OPTIONS = re2.Options()
_AUTOMATON_OPTIONS.case_sensitive = False
_AUTOMATON_OPTIONS.never_capture = True
_AUTOMATON_OPTIONS.log_errors = False  # a pattern RE2 cannot read goes to re, silently


@dataclass(frozen=True)
class _Scan:
    automaton: re2._Regexp | None  # the patterns RE2 reads as re does, joined
    rest: tuple[re.Pattern[str], ...]  # the others, for re
    everything: tuple[re.Pattern[str], ...]  # all of them, for text RE2 may read otherwise


def any_pattern_occurs(patterns: tuple[str, ...], text: str) -> bool:
    """Whether any of `patterns` occurs in `text`, as `re.search` with IGNORECASE would say."""
    scan = _scan(patterns)
    if scan.automaton is not None and _read_alike(text):
        return scan.automaton.search(text) is not None or any(scanner.search(text) for scanner in scan.rest)
    return any(scanner.search(text) for scanner in scan.everything)


@lru_cache(maxsize=64)  # one reply is scanned for each of its line's pitfalls in turn
def _read_alike(text: str) -> bool:
    if text.isascii():
        return not _ODD_SPACE.search(text)
    return not _READ_OTHERWISE_TEXT.search(text)


@lru_cache(maxsize=1024)
def _scan(patterns: tuple[str, ...]) -> _Scan:
    for_automaton = tuple(pattern for pattern in patterns if _automaton_reads_alike(pattern))
    automaton = _compile_automaton(for_automaton) if for_automaton else None
    if automaton is None:
        return _Scan(None, (), _joined(patterns))
    rest = tuple(pattern for pattern in patterns if pattern not in for_automaton)
    return _Scan(automaton, _joined(rest), _joined(patterns))


def _automaton_reads_alike(pattern: str) -> bool:
    if _READ_OTHERWISE.search(pattern):
        return False
    return _compile_automaton((pattern,)) is not None


def _compile_automaton(patterns: tuple[str, ...]) -> re2._Regexp | None:
    try:
        return re2.compile("|".join(f"(?:{pattern})" for pattern in patterns), _AUTOMATON_OPTIONS)
    except re2.error:
        return None


def _joined(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The patterns for re: joined into one where they can be (one scan rather than one
    each), alone where their own groups or flags would not survive the join."""
    joinable = [pattern for pattern in patterns if not _OWN_GROUPS.search(pattern)]
    alone = [compiled_pattern(pattern) for pattern in patterns if _OWN_GROUPS.search(pattern)]
    if not joinable:
        return tuple(alone)
    try:
        joined = re.compile("|".join(f"(?:{pattern})" for pattern in joinable), re.IGNORECASE)
    except re.error:  # a pattern with a flag of its own, say, that cannot sit inside another
        return tuple(compiled_pattern(pattern) for pattern in patterns)
    return (joined, *alone)
