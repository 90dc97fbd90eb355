"""Precision and recall of the masker per type, measured on tests/data/pii_corpus*.tsv.

Each corpus line states the exact values that must be masked, so a finding counts as a
true positive only when its type and its exact span text match an expected entry.
pii_corpus.tsv is the main set; pii_corpus_hard.tsv holds harder phrasings added later.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.masking import PlaceholderVault, mask_text
from tests.support.stack import REPO_ROOT

CORPUS_PATHS = sorted((REPO_ROOT / "tests" / "data").glob("pii_corpus*.tsv"))
STRUCTURED_TYPES = ("EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP")
CONTEXTUAL_TYPES = ("NAME", "ADDRESS", "DOB", "ACCOUNT")
# Structured types are validated (checksums, parsers), so the bar applies.
STRUCTURED_MIN_RECALL = 0.98
STRUCTURED_MIN_PRECISION = 0.95
# Contextual types depend on cues and capitalisation; these floors guard against
# regressions while admitting that heuristics miss some forms (see README limits).
CONTEXTUAL_MIN_RECALL = 0.90
CONTEXTUAL_MIN_PRECISION = 0.90


@dataclass(frozen=True)
class CorpusCase:
    location: str
    text: str
    expected: tuple[tuple[str, str], ...]


@dataclass
class TypeScore:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def parse_expected(field: str) -> tuple[tuple[str, str], ...]:
    """'-' or 'TYPE=value | TYPE=value' -> ((TYPE, value), ...)."""
    if field.strip() == "-":
        return ()
    pairs = []
    for entry in field.split(" | "):
        type_name, _, value = entry.partition("=")
        pairs.append((type_name.strip(), value))
    return tuple(pairs)


def load_corpus(path: Path) -> list[CorpusCase]:
    """Read one corpus file; '\\n' in a text stands for a line break."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        expected_field, text = line.split("\t", 1)
        text = text.replace("\\n", "\n")
        expected = parse_expected(expected_field)
        for _, value in expected:
            assert value in text, f"{path.name}:{number}: expected value {value!r} is not in the text"
        cases.append(CorpusCase(f"{path.name}:{number}", text, expected))
    return cases


def found_values(text: str) -> list[tuple[str, str]]:
    """(type, original span text) for each finding on a fresh vault."""
    vault = PlaceholderVault.from_json(None, secret=b"corpus-secret")
    result = mask_text(text, vault)
    return [(finding.type, text[finding.start : finding.end]) for finding in result.findings]


def score_corpus(cases: list[CorpusCase]) -> tuple[dict[str, TypeScore], list[str]]:
    """Per-type scores plus a readable line for every case that was not exactly right."""
    scores: dict[str, TypeScore] = {}
    mistakes = []
    for case in cases:
        expected = Counter(case.expected)
        found = Counter(found_values(case.text))
        matched = expected & found
        for (type_name, _), count in matched.items():
            scores.setdefault(type_name, TypeScore()).true_positives += count
        for (type_name, _), count in (found - matched).items():
            scores.setdefault(type_name, TypeScore()).false_positives += count
        for (type_name, _), count in (expected - matched).items():
            scores.setdefault(type_name, TypeScore()).false_negatives += count
        if expected != found:
            missed = sorted((expected - matched).elements())
            extra = sorted((found - matched).elements())
            mistakes.append(f"{case.location}: missed={missed} extra={extra} text={case.text!r}")
    return scores, mistakes


def format_table(scores: dict[str, TypeScore]) -> str:
    """Per-type table: TP, FP, FN, precision, recall."""
    rows = [f"{'type':<8} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}"]
    for type_name in sorted(scores):
        s = scores[type_name]
        rows.append(
            f"{type_name:<8} {s.true_positives:>4} {s.false_positives:>4} {s.false_negatives:>4} "
            f"{s.precision:>9.3f} {s.recall:>7.3f}"
        )
    return "\n".join(rows)


@pytest.fixture(name="corpus", scope="module")
def _corpus() -> list[CorpusCase]:
    return [case for path in CORPUS_PATHS for case in load_corpus(path)]


@pytest.fixture(name="scored", scope="module")
def _scored(corpus: list[CorpusCase]) -> tuple[dict[str, TypeScore], list[str]]:
    return score_corpus(corpus)


def test_corpus_has_at_least_300_cases_with_positives_and_negatives(corpus: list[CorpusCase]) -> None:
    assert len(corpus) >= 300
    positives = Counter(type_name for case in corpus for type_name, _ in case.expected)
    for type_name in STRUCTURED_TYPES + CONTEXTUAL_TYPES:
        assert positives[type_name] >= 10, f"too few {type_name} positives"
    assert sum(1 for case in corpus if not case.expected) >= 100


@pytest.mark.parametrize("type_name", STRUCTURED_TYPES)
def test_structured_type_meets_recall_and_precision_floor(
    type_name: str, scored: tuple[dict[str, TypeScore], list[str]]
) -> None:
    scores, mistakes = scored
    score = scores[type_name]
    report = format_table(scores) + "\n" + "\n".join(m for m in mistakes if type_name in m)
    assert score.recall >= STRUCTURED_MIN_RECALL, report
    assert score.precision >= STRUCTURED_MIN_PRECISION, report


@pytest.mark.parametrize("type_name", CONTEXTUAL_TYPES)
def test_contextual_type_meets_documented_floor(type_name: str, scored: tuple[dict[str, TypeScore], list[str]]) -> None:
    scores, mistakes = scored
    score = scores[type_name]
    report = format_table(scores) + "\n" + "\n".join(m for m in mistakes if type_name in m)
    assert score.recall >= CONTEXTUAL_MIN_RECALL, report
    assert score.precision >= CONTEXTUAL_MIN_PRECISION, report


def test_per_type_table_covers_every_type(scored: tuple[dict[str, TypeScore], list[str]]) -> None:
    """Also prints the table, for `pytest -s`, so the numbers can be reported."""
    scores, _ = scored
    table = format_table(scores)
    print("\n" + table)
    assert set(scores) == set(STRUCTURED_TYPES + CONTEXTUAL_TYPES)
