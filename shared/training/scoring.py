"""Per-reply scoring: how much of the expected content a trainee's reply contains.

How a reply is scored
---------------------
A reply is measured in two parts.

* **Keywords (60 %)**: the share of the customer line's `expected_keywords` that the
  reply mentions. An entry with alternatives such as `sorry|apologize` counts once,
  whichever alternative is used.
* **Rubric (40 %)**: the weighted mean of the rubric criteria's coverage. A criterion's
  coverage is the share of its evidence items (`keywords`, `phrases` and `patterns`)
  found in the reply. Using any of its `forbidden` phrases sets that criterion to 0.
  A criterion that has only forbidden phrases (no evidence items) stays out of the mean
  while the reply avoids them, and joins the mean at 0 once one is used.

    score = round(100 × (0.6 × keywords + 0.4 × rubric))

If one part has nothing to measure (the customer line expects no keywords, or no
criterion has evidence items), the other part counts for the whole score. If neither
part has anything to measure, the score is a neutral 50. Keywords, phrases and
forbidden phrases use the scenario keyword syntax (`shared/scenarios/keywords.py`:
case-insensitive, on word boundaries, `a|b` alternatives); patterns are regular
expressions searched case-insensitively. Rounding is half up.

Adding more of the expected content never lowers the score: every part only grows
when an item is found. Only a forbidden phrase lowers it, and the score stays in
0..100. (A regular expression anchored to the end of the text, such as `\\?$`, can
stop matching when text is added, so rubric patterns should not be anchored.)

Worked example
--------------
Expected keywords: `sorry|apologize`, `refund`, `order number`.
Rubric:

* Empathy, weight 2: keywords `understand`, `frustrating`; phrase `so sorry`.
* Professionalism, weight 1: keywords `please`, `thank you`; forbidden `calm down`.

Reply: "I'm so sorry about this. Could you send me your order number, please?"

* Keywords: `sorry|apologize` and `order number` are found, `refund` is not: 2/3.
* Empathy: `so sorry` found, `understand` and `frustrating` not: 1/3 (shown as 33).
* Professionalism: `please` found, `thank you` not: 1/2 (shown as 50).
* Rubric: (2 × 1/3 + 1 × 1/2) / (2 + 1) = 0.389.
* Score: 100 × (0.6 × 0.667 + 0.4 × 0.389) = 55.6, rounded to **56**.

Had the reply also said "calm down", Professionalism would be 0, the rubric
(2 × 1/3 + 1 × 0) / 3 = 0.222, and the score 100 × (0.4 + 0.089) = 48.9, so **49**.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from shared.scenarios.keywords import keyword_alternatives, keyword_matches, missed_keywords

KEYWORD_WEIGHT = 0.6
RUBRIC_WEIGHT = 0.4
NEUTRAL_SCORE = 50


def keyword_label(keyword: str) -> str:
    """How a keyword entry reads in advice: `sorry|apologize` becomes “sorry” (or “apologize”)."""
    alternatives = keyword_alternatives(keyword) or [keyword.strip()]
    label = f"“{alternatives[0]}”"
    if len(alternatives) > 1:
        label += " (or " + ", ".join(f"“{alt}”" for alt in alternatives[1:]) + ")"
    return label


@dataclass(frozen=True)
class EvidenceItem:
    """One thing a rubric criterion looks for: a keyword, a phrase or a regex pattern."""

    kind: str  # "keyword" | "phrase" | "pattern"
    value: str

    def found_in(self, text: str) -> bool:
        """True when this item occurs in `text`."""
        if self.kind == "pattern":
            return re.search(self.value, text, re.IGNORECASE) is not None
        return keyword_matches(text, self.value)


def evidence_items(criterion: Any) -> tuple[EvidenceItem, ...]:
    """The criterion's evidence items in a fixed order: keywords, phrases, patterns."""
    return (
        tuple(EvidenceItem("keyword", value) for value in criterion.keywords)
        + tuple(EvidenceItem("phrase", value) for value in criterion.phrases)
        + tuple(EvidenceItem("pattern", value) for value in criterion.patterns)
    )


@dataclass(frozen=True)
class CriterionCheck:
    """What one rubric criterion found: `found[i]` says whether item i was present."""

    criterion: Any
    items: tuple[EvidenceItem, ...]
    found: tuple[bool, ...]
    forbidden_used: tuple[str, ...]

    @property
    def has_items(self) -> bool:
        return bool(self.items)

    @property
    def violated(self) -> bool:
        return bool(self.forbidden_used)

    @property
    def coverage(self) -> float:
        """0..1: share of evidence items found, 0 when a forbidden phrase was used.

        A criterion without evidence items covers 1 when clean (nothing was asked of it).
        """
        if self.violated:
            return 0.0
        if not self.items:
            return 1.0
        return sum(self.found) / len(self.items)

    @property
    def score(self) -> int:
        """The criterion's coverage as 0..100."""
        return round_half_up(100 * self.coverage)

    def missing_items(self) -> list[EvidenceItem]:
        """Evidence items not found, in order."""
        return [item for item, hit in zip(self.items, self.found) if not hit]


def check_criterion(text: str, criterion: Any) -> CriterionCheck:
    """Look for one criterion's evidence items and forbidden phrases in `text`."""
    items = evidence_items(criterion)
    return CriterionCheck(
        criterion=criterion,
        items=items,
        found=tuple(item.found_in(text) for item in items),
        forbidden_used=tuple(phrase for phrase in criterion.forbidden if keyword_matches(text, phrase)),
    )


def merge_checks(checks: Sequence[CriterionCheck]) -> CriterionCheck:
    """Combine checks of the same criterion over several texts: an item counts as found,
    and a forbidden phrase as used, when any text has it."""
    first = checks[0]
    found = tuple(any(check.found[i] for check in checks) for i in range(len(first.items)))
    used: list[str] = []
    for check in checks:
        used.extend(phrase for phrase in check.forbidden_used if phrase not in used)
    return CriterionCheck(first.criterion, first.items, found, tuple(used))


def rubric_coverage(checks: Iterable[CriterionCheck]) -> float | None:
    """Weighted mean coverage of the criteria that take part, or None if none does.

    A criterion takes part when it has evidence items, or when a forbidden phrase was
    used (then at 0). A clean criterion with only forbidden phrases stays out, so an
    empty reply earns nothing for merely avoiding bad phrases.
    """
    weighted = 0.0
    total_weight = 0.0
    for check in checks:
        if not check.has_items and not check.violated:
            continue
        weight = float(check.criterion.weight)
        weighted += weight * check.coverage
        total_weight += weight
    if total_weight <= 0:
        return None
    return weighted / total_weight


def combine_parts(keyword_coverage: float | None, rubric: float | None) -> int:
    """The 0..100 score from the keyword part and the rubric part (None: not measured)."""
    if keyword_coverage is None and rubric is None:
        return NEUTRAL_SCORE
    if keyword_coverage is None:
        value = rubric
    elif rubric is None:
        value = keyword_coverage
    else:
        value = KEYWORD_WEIGHT * keyword_coverage + RUBRIC_WEIGHT * rubric
    return min(100, max(0, round_half_up(100 * value)))


def round_half_up(value: float) -> int:
    """Round .5 up (Python's round() rounds half to even, which would surprise readers)."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class ReplyFeedback:
    """Feedback on one trainee reply. `criteria` maps each rubric criterion name to 0..100."""

    score: int
    matched: list[str]
    missed: list[str]
    suggestions: list[str]
    criteria: dict[str, int]

    def to_json(self) -> dict:
        """A JSON-serialisable copy, as stored in a message's metadata."""
        return {
            "score": self.score,
            "matched": list(self.matched),
            "missed": list(self.missed),
            "suggestions": list(self.suggestions),
            "criteria": dict(self.criteria),
        }


def score_reply(text: str, expected_keywords: Sequence[str], rubric: Sequence[Any]) -> ReplyFeedback:
    """Score one trainee reply against the customer line's expected keywords and the rubric.

    See the module docstring for the formula.
    """
    expected = list(expected_keywords)
    missed = missed_keywords(text, expected) if expected else []
    missed_set = set(missed)
    matched = [keyword for keyword in expected if keyword not in missed_set]
    keyword_coverage = len(matched) / len(expected) if expected else None

    checks = [check_criterion(text, criterion) for criterion in rubric]
    score = combine_parts(keyword_coverage, rubric_coverage(checks))
    return ReplyFeedback(
        score=score,
        matched=matched,
        missed=missed,
        suggestions=suggestions_for(missed, checks),
        criteria={check.criterion.name: check.score for check in checks},
    )


def suggestions_for(missed: Sequence[str], checks: Sequence[CriterionCheck]) -> list[str]:
    """Concrete advice: forbidden phrases to drop first, then missed keywords, then
    criteria that were not fully covered (with an example of what to say)."""
    suggestions: list[str] = []
    for check in checks:
        for phrase in check.forbidden_used:
            suggestions.append(f"Avoid saying “{phrase}”; it counts against {check.criterion.name}.")
    for keyword in missed:
        suggestions.append(f"Mention {keyword_label(keyword)}.")
    already_named = set(missed)
    for check in checks:
        if not check.has_items or check.violated or check.coverage >= 1:
            continue
        suggestions.append(criterion_advice(check.criterion, check.missing_items(), already_named))
    return _unique(suggestions)


def criterion_advice(criterion: Any, missing: Sequence[EvidenceItem], already_named: set[str]) -> str:
    """'<description>, e.g. say “<a missing item>”', preferring an item not named elsewhere."""
    goal = (criterion.description or criterion.name).strip().rstrip(".!;:,")
    sayable = [item for item in missing if item.kind != "pattern"]
    fresh = [item for item in sayable if item.value not in already_named]
    example = (fresh or sayable or [None])[0]
    if example is None:
        # Only regex patterns are missing; a pattern is no example of what to say.
        return f"{goal}."
    return f"{goal}, e.g. say {keyword_label(example.value)}."


def _unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return [value for value in values if not (value in seen or seen.add(value))]
