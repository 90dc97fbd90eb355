"""The judgement of one trainee reply: which of the customer line's points it makes, which
pitfalls it falls into, and whether it is written as an answer or as a list of keywords.

How a reply is scored (docs/training.md has a worked example)
--------------------------------------------------------------
* **Points.** Each customer line lists what a good reply to it does (`points`), each for
  a rubric criterion and with a weight. A point is made when one of its `says` patterns
  occurs outside a negation. Content is the weighted share of points made.
* **Form.** A reply that reads as a list of keywords (language.keyword_list_share) keeps
  only the rest of its content: content × (1 - share).
* **Pitfalls.** The line's pitfalls, the scenario's, its rubric's `forbidden` phrases and
  the built-in ones (tone.py) each cost what a trainer takes off: a `wrong` fact or act
  caps the score at WRONG_CAP, a `rude` remark at RUDE_CAP, a `minor` one costs
  MINOR_PENALTY points; each further wrong or rude hit lowers the cap by EXTRA_HIT_PENALTY.
  A point said inside a negation ("no need to rotate it") counts as a wrong hit.

    score = round(100 × content × (1 - keyword_list_share)), then the pitfalls

A criterion's score is the same formula over its own points and pitfalls on this line;
criteria with neither are not judged on this line.

A scenario written in the upstream format, without points, gets one point per entry of
the line's `expected_keywords` (any alternative makes it), so form, tone and negation
still count there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.scenarios.keywords import keyword_alternatives, keyword_regex
from shared.scenarios.model import Pitfall, Point
from shared.training.language import is_negated, keyword_list_share
from shared.training.tone import BUILT_IN_PITFALLS, TONE_CRITERION, tone_criterion

CLEAN_FLOOR = 10
WRONG_CAP = 15
RUDE_CAP = 20
MINOR_PENALTY = 15
EXTRA_HIT_PENALTY = 5
MAX_COACHING = 2
QUOTE_CHARS = 160
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@dataclass(frozen=True)
class PointResult:
    """How the reply did on one point. `quote` is the sentence that made (or, when
    `contradicted`, negated) it."""

    point: Point
    made: bool
    contradicted: bool
    quote: str | None


@dataclass(frozen=True)
class PitfallHit:
    """A pitfall the reply fell into, with the sentence that did it."""

    pitfall: Pitfall
    quote: str


@dataclass(frozen=True)
class Coaching:
    """One sentence of feedback and the rubric criterion it comes from."""

    criterion: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"criterion": self.criterion, "text": self.text}


@dataclass(frozen=True)
class Judgement:
    """The judgement of one reply; `criteria` maps each criterion judged on this line to
    0..100."""

    score: int
    criteria: dict[str, int]
    points: tuple[PointResult, ...]
    pitfalls: tuple[PitfallHit, ...]
    keyword_list_share: float

    def worked(self) -> list[Coaching]:
        """What the reply did well, heaviest points first (at most MAX_COACHING)."""
        if self.score < RUDE_CAP:
            return []
        made = sorted((r for r in self.points if r.made), key=lambda r: -r.point.weight)
        return [Coaching(r.point.criterion, praise_for(r.point)) for r in made][:MAX_COACHING]

    def improve(self) -> list[Coaching]:
        """The one or two things to do better: pitfalls first (worst first), then points
        said the wrong way round, then the heaviest points missed."""
        advice: list[Coaching] = []
        for hit in sorted(self.pitfalls, key=lambda hit: _SEVERITY_ORDER[hit.pitfall.severity]):
            advice.append(Coaching(hit.pitfall.criterion, hit.pitfall.coach))
        for result in self.points:
            if result.contradicted:
                advice.append(Coaching(result.point.criterion, result.point.coach))
        missed = [r for r in self.points if not r.made and not r.contradicted]
        for result in sorted(missed, key=lambda r: -r.point.weight):
            advice.append(Coaching(result.point.criterion, result.point.coach))
        if self.keyword_list_share >= 0.5 and len(advice) < MAX_COACHING + 1:
            advice.insert(0, Coaching(_first_criterion(self), _KEYWORD_LIST_COACH))
        return _unique(advice)[:MAX_COACHING]

    def made_labels(self) -> list[str]:
        return [r.point.label for r in self.points if r.made]

    def missed_labels(self) -> list[str]:
        return [r.point.label for r in self.points if not r.made]


_SEVERITY_ORDER = {"wrong": 0, "rude": 1, "minor": 2}
_KEYWORD_LIST_COACH = "Answer in full sentences that say what you are doing; a list of keywords is not an answer."


def judge_reply(scenario: Any, turn_index: int, text: str) -> Judgement:
    """Judge a trainee reply to customer line `turn_index` (0-based; past the script, only
    pitfalls and form count)."""
    points = line_points(scenario, turn_index)
    point_results = tuple(_check_point(point, text) for point in points)
    hits = tuple(_pitfall_hits(scenario, turn_index, text))
    # Words per point say something only for points that are ideas; points made of the
    # upstream layout's keywords are single words, and a concise reply packs several.
    authored = 0 <= turn_index < len(scenario.bot_messages) and bool(scenario.bot_messages[turn_index].points)
    listiness = keyword_list_share(text, points_made=sum(1 for r in point_results if r.made) if authored else 0)
    contradictions = [r for r in point_results if r.contradicted]

    score = _score(point_results, hits, contradictions, listiness)
    criteria: dict[str, int] = {}
    for name in _criteria_judged(point_results, hits):
        own_points = [r for r in point_results if r.point.criterion == name]
        own_hits = [h for h in hits if h.pitfall.criterion == name]
        own_contradictions = [r for r in own_points if r.contradicted]
        criteria[name] = _score(own_points, own_hits, own_contradictions, listiness)
    return Judgement(score, criteria, point_results, hits, listiness)


def _score(
    results: Sequence[PointResult], hits: Sequence[PitfallHit], contradictions: Sequence[PointResult], listiness: float
) -> int:
    total = sum(r.point.weight for r in results)
    content = sum(r.point.weight for r in results if r.made) / total if total else 1.0
    value = (CLEAN_FLOOR + (100 - CLEAN_FLOOR) * content) * (1 - listiness)
    severe = [h.pitfall.severity for h in hits if h.pitfall.severity != "minor"] + ["wrong"] * len(contradictions)
    if severe:
        cap = WRONG_CAP if "wrong" in severe else RUDE_CAP
        value = min(value, cap - EXTRA_HIT_PENALTY * (len(severe) - 1))
    value -= MINOR_PENALTY * sum(1 for h in hits if h.pitfall.severity == "minor")
    return min(100, max(0, math.floor(value + 0.5)))


def _criteria_judged(results: Iterable[PointResult], hits: Iterable[PitfallHit]) -> list[str]:
    names: list[str] = []
    for name in [r.point.criterion for r in results] + [h.pitfall.criterion for h in hits]:
        if name not in names:
            names.append(name)
    return names


def line_points(scenario: Any, turn_index: int) -> tuple[Point, ...]:
    """The points a reply to line `turn_index` should make: the line's own, or one per
    expected keyword for a scenario in the upstream format."""
    if not 0 <= turn_index < len(scenario.bot_messages):
        return ()
    line = scenario.bot_messages[turn_index]
    if line.points:
        return line.points
    return _keyword_points(scenario, turn_index)


@lru_cache(maxsize=256)
def _keyword_points_cached(rubric: tuple, keywords: tuple[str, ...], question: str) -> tuple[Point, ...]:
    points = []
    for keyword in keywords:
        regex = keyword_regex(keyword)
        if regex is None:
            continue
        criterion = _criterion_listing(rubric, keyword)
        goal = (criterion.description if criterion is not None and criterion.description else "").strip()
        coach = goal.rstrip(".!;:, ") + "." if goal else f"Answer what the customer asked: “{question}”"
        points.append(
            Point(
                criterion=criterion.name if criterion is not None else (rubric[0].name if rubric else "Reply"),
                label=keyword_alternatives(keyword)[0],
                says=(regex.pattern,),
                coach=coach,
            )
        )
    return tuple(points)


def _keyword_points(scenario: Any, turn_index: int) -> tuple[Point, ...]:
    line = scenario.bot_messages[turn_index]
    sentences = [s.strip() for s in _SENTENCE.findall(line.content) if s.strip()]
    questions = [s for s in sentences if s.endswith("?")]
    question = (questions or sentences or [line.content])[-1]
    return _keyword_points_cached(tuple(scenario.rubric), tuple(line.expected_keywords), question)


def _criterion_listing(rubric: Sequence[Any], keyword: str) -> Any | None:
    """The rubric criterion whose keywords or phrases share an alternative with `keyword`."""
    wanted = {alternative.casefold() for alternative in keyword_alternatives(keyword)}
    for criterion in rubric:
        for entry in tuple(criterion.keywords) + tuple(criterion.phrases):
            if wanted & {alternative.casefold() for alternative in keyword_alternatives(entry)}:
                return criterion
    return None


def _check_point(point: Point, text: str) -> PointResult:
    negated_quote = None
    for pattern in point.says:
        for match in _compiled(pattern).finditer(text):
            if not is_negated(text, match.start()):
                return PointResult(point, True, False, _sentence_at(text, match.start()))
            negated_quote = negated_quote or _sentence_at(text, match.start())
    return PointResult(point, False, negated_quote is not None, negated_quote)


def _pitfall_hits(scenario: Any, turn_index: int, text: str) -> Iterable[PitfallHit]:
    for pitfall in all_pitfalls(scenario, turn_index):
        for pattern in pitfall.says:
            match = next((m for m in _compiled(pattern).finditer(text) if not is_negated(text, m.start())), None)
            if match is not None:
                yield PitfallHit(pitfall, _sentence_at(text, match.start()))
                break


def all_pitfalls(scenario: Any, turn_index: int) -> tuple[Pitfall, ...]:
    """The pitfalls a reply to line `turn_index` is checked for: the line's, the
    scenario's, the rubric's forbidden phrases and the built-in ones."""
    line = scenario.bot_messages[turn_index] if 0 <= turn_index < len(scenario.bot_messages) else None
    return (line.pitfalls if line is not None else ()) + _scenario_pitfalls(scenario)


def _scenario_pitfalls(scenario: Any) -> tuple[Pitfall, ...]:
    return _scenario_pitfalls_cached(tuple(scenario.rubric), tuple(getattr(scenario, "pitfalls", ())))


@lru_cache(maxsize=64)
def _scenario_pitfalls_cached(rubric: tuple, own: tuple[Pitfall, ...]) -> tuple[Pitfall, ...]:
    forbidden = tuple(
        Pitfall(
            criterion=criterion.name,
            label=keyword_alternatives(phrase)[0],
            says=(regex.pattern,),
            coach=f"Leave out “{keyword_alternatives(phrase)[0]}”: it undercuts {criterion.name.lower()}.",
            severity="rude",
        )
        for criterion in rubric
        for phrase in criterion.forbidden
        if (regex := keyword_regex(phrase)) is not None
    )
    tone = tone_criterion(rubric)
    built_in = tuple(
        pitfall.model_copy(update={"criterion": tone}) if pitfall.criterion == TONE_CRITERION else pitfall
        for pitfall in BUILT_IN_PITFALLS
    )
    return own + forbidden + built_in


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _sentence_at(text: str, offset: int) -> str:
    """The sentence of `text` around `offset`, on one line and at most QUOTE_CHARS long."""
    for match in _SENTENCE.finditer(text):
        if match.start() <= offset < match.end():
            sentence = " ".join(match.group().split())
            return sentence if len(sentence) <= QUOTE_CHARS else sentence[: QUOTE_CHARS - 1].rstrip() + "…"
    return " ".join(text.split())[:QUOTE_CHARS]


def praise_for(point: Point) -> str:
    """What to say when a reply makes `point`: its `praise`, else its criterion and label."""
    return point.praise or f"{point.criterion}: {point.label}."


def _first_criterion(judgement: Judgement) -> str:
    return next(iter(judgement.criteria), TONE_CRITERION)


def _unique(advice: list[Coaching]) -> list[Coaching]:
    seen: set[str] = set()
    return [item for item in advice if not (item.text in seen or seen.add(item.text))]
