"""The judgement of one trainee reply: which of the customer line's points it makes, which
pitfalls it falls into, and whether it is written as an answer or as a list of keywords.

How a reply is scored (docs/training.md has a worked example)
--------------------------------------------------------------
* **Points.** Each customer line lists what a good reply to it does (`points`), each in a
  trainer's words, for a rubric criterion and with a weight. Each point has a degree,
  0..1, by meaning (meaning.py: the reply's clauses against the point's label, its spoken
  form and the line's example sentences); a `says` hint outside a negation makes it
  outright. Content is the weighted mean of the degrees.
* **Form.** A reply that reads as a list of keywords (language.keyword_list_share) keeps
  only the rest of its content: content × (1 - share).
* **Pitfalls.** The line's pitfalls and the scenario's (by meaning and by their hints),
  the scenario documents' prohibitions (documents.py), the rubric's `forbidden` phrases,
  the built-in ones (tone.py) and not answering the customer at all each cost what a
  trainer takes off: a `wrong` fact or act caps the score at WRONG_CAP, a `rude` remark at
  RUDE_CAP, a `minor` one costs MINOR_PENALTY points; each further wrong or rude hit
  lowers the cap by EXTRA_HIT_PENALTY. An author's `says` hint matched inside a negation
  ("no need to rotate it") counts as a wrong hit.

    score = (CLEAN_FLOOR + (100 - CLEAN_FLOOR) × content) × (1 - keyword_list_share),
            then the pitfalls

A criterion's score is the same formula over its own points and pitfalls on this line;
criteria with neither are not judged on this line.

A scenario written in the upstream format, without points, gets one point per entry of
the line's `expected_keywords` (the keyword a hint, its alternatives and the documents'
sentences that use it the anchors), so form, tone and the documents' rules still count.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from shared.llm.judging import ModelVerdict
from shared.scenarios.keywords import keyword_alternatives, keyword_regex
from shared.scenarios.model import Point
from shared.scenarios.plain_words import speech_act_hints, spoken_form
from shared.training import meaning
from shared.training.documents import document_sentences
from shared.training.language import compiled_pattern, is_negated, keyword_list_share, sentence_at
from shared.training.meaning import ReplyMeaning, anchor_matrix, example_anchors
from shared.training.pitfalls import PitfallHit, pitfall_hits, verdict_hits
from shared.training.tone import TONE_CRITERION

CLEAN_FLOOR = 10
WRONG_CAP = 15
RUDE_CAP = 20
MINOR_PENALTY = 25
EXTRA_HIT_PENALTY = 5
MAX_COACHING = 2
# A point counts as made (in `matched`, praised) from this degree of meaning on.
MADE_DEGREE = 0.5
# The points made for upstream-layout lines, one per keyword (equal across scenarios that
# share a keyword and a rubric: their anchors are looked up per scenario, never by point).
_KEYWORD_POINTS: set[Point] = set()
# How many sentences of the scenario's documents that use a keyword join its anchors: they
# say what the keyword means here ("the Direct Debit collects the corrected amount"), which
# a good reply in other words is closer to than to the bare keyword (set by tune.py).
DOCUMENT_ANCHORS_PER_KEYWORD = 5
# The degree an upstream keyword said outside a negation gives its point at least; the
# meaning check may give more. Below 1, a wrong reply full of the right words no longer
# makes every point outright (set by tune.py; docs/training.md, The evaluation).
KEYWORD_CREDIT = 0.5
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@dataclass(frozen=True)
class PointResult:
    """How the reply did on one point. `quote` is the sentence that made (or, when
    `contradicted`, negated) it."""

    point: Point
    made: bool
    contradicted: bool
    quote: str | None
    degree: float = 0.0


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


def judge_reply(
    scenario: Any, turn_index: int, text: str, *, hints: bool = True, verdict: ModelVerdict | None = None
) -> Judgement:
    """Judge a trainee reply to customer line `turn_index` (0-based; past the script, only
    pitfalls and form count). `hints` False leaves out the `says` patterns and keywords'
    exact matches, judging by meaning alone (how the evaluation tunes the meaning check).
    `verdict`, a model judge's reading of the reply (shared/llm/judging.py), decides the
    points and the authored pitfalls instead of the meaning check; form, the built-in and
    the rubric's pattern pitfalls and the score's formula stay the same."""
    if verdict is not None:
        return _judge(scenario, turn_index, text, hints, verdict)
    return _recent.get(scenario, turn_index, text, hints)


class _RecentJudgements:
    """The judgements this process made last, kept for a second call with the same
    reply: the mock provider judges the trainee's reply to choose the customer's reaction
    (shared/llm/mock.py), and the reply's feedback then judges it again, which cost a
    fifth of the worker's CPU at saturation (docs/performance.md, Design measurements).
    Keyed by the scenario object itself (a process loads each once), so an edited
    scenario is judged anew."""

    def __init__(self, size: int):
        self._size = size
        self._kept: OrderedDict[tuple[int, int, str, bool], tuple[Any, Judgement]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scenario: Any, turn_index: int, text: str, hints: bool) -> Judgement:
        key = (id(scenario), turn_index, text, hints)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] is scenario:
            return kept[1]
        judgement = _judge(scenario, turn_index, text, hints, None)
        with self._lock:
            self._kept[key] = (scenario, judgement)  # the scenario kept, so its id is not reused
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return judgement

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


# Enough for the replies one worker has in flight between the two calls.
_recent = _RecentJudgements(size=2048)


def forget_recent_judgements() -> None:
    """Judge every reply anew from here on (eval/feedback/tune.py, after moving a bound)."""
    _recent.clear()


def _judge(scenario: Any, turn_index: int, text: str, hints: bool, verdict: ModelVerdict | None) -> Judgement:
    points = line_points(scenario, turn_index)
    reply = ReplyMeaning(text)
    anchors = _point_anchors(scenario, turn_index)
    if verdict is None:
        point_results = tuple(
            _check_point(point, text, reply, anchor, hints) for point, anchor in zip(points, anchors, strict=True)
        )
        hits = pitfall_hits(scenario, turn_index, text, reply, points, anchors, hints)
    else:
        point_results = tuple(
            _point_by_verdict(point, index in verdict.made, text, reply, anchor)
            for index, (point, anchor) in enumerate(zip(points, anchors, strict=True))
        )
        hits = verdict_hits(scenario, turn_index, text, reply, verdict)
    # Words per point say something only for points that are ideas; points made of the
    # upstream layout's keywords are single words, and a concise reply packs several.
    # A model's verdict is not a count of matches: only the form signs count then.
    authored = (
        verdict is None
        and 0 <= turn_index < len(scenario.bot_messages)
        and bool(scenario.bot_messages[turn_index].points)
    )
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
    content = sum(r.point.weight * r.degree for r in results) / total if total else 1.0
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
        point = Point(
            criterion=criterion.name if criterion is not None else (rubric[0].name if rubric else "Reply"),
            label=keyword_alternatives(keyword)[0],
            says=(regex.pattern,),
            coach=coach,
        )
        _KEYWORD_POINTS.add(point)
        points.append(point)
    return tuple(points)


def _keyword_points(scenario: Any, turn_index: int) -> tuple[Point, ...]:
    line = scenario.bot_messages[turn_index]
    sentences = [s.strip() for s in _SENTENCE.findall(line.content) if s.strip()]
    questions = [s for s in sentences if s.endswith("?")]
    question = (questions or sentences or [line.content])[-1]
    return _keyword_points_cached(tuple(scenario.rubric), tuple(line.expected_keywords), question)


@lru_cache(maxsize=256)
def _keyword_anchor_texts(keywords: tuple[str, ...], documents: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """For each usable keyword (as _keyword_points_cached makes its points), its
    alternatives and up to DOCUMENT_ANCHORS_PER_KEYWORD document sentences that use it."""
    anchors = []
    for keyword in keywords:
        regex = keyword_regex(keyword)
        if regex is None:
            continue
        in_documents = [sentence for sentence in documents if regex.search(sentence)][:DOCUMENT_ANCHORS_PER_KEYWORD]
        anchors.append((*keyword_alternatives(keyword), *in_documents))
    return tuple(anchors)


def _criterion_listing(rubric: Sequence[Any], keyword: str) -> Any | None:
    """The rubric criterion whose keywords or phrases share an alternative with `keyword`."""
    wanted = {alternative.casefold() for alternative in keyword_alternatives(keyword)}
    for criterion in rubric:
        for entry in tuple(criterion.keywords) + tuple(criterion.phrases):
            if wanted & {alternative.casefold() for alternative in keyword_alternatives(entry)}:
                return criterion
    return None


def _point_anchors(scenario: Any, turn_index: int) -> tuple[np.ndarray, ...]:
    """Each point's anchors as vectors: its label, the example sentences closest to it and,
    for a keyword point, the keyword's alternatives (meaning.py)."""
    points = line_points(scenario, turn_index)
    if not points:
        return ()
    line = scenario.bot_messages[turn_index]
    if line.points:
        return _anchors_for(points, line.examples)
    keyword_anchors = _keyword_anchor_texts(tuple(line.expected_keywords), document_sentences(scenario))
    return tuple(anchor_matrix(texts) for texts in keyword_anchors)


@lru_cache(maxsize=512)
def _anchors_for(points: tuple[Point, ...], examples: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    labels = [point.label for point in points]
    from_examples = example_anchors(labels, examples)
    return tuple(
        anchor_matrix(_authored_anchors(point, point_examples))
        for point, point_examples in zip(points, from_examples, strict=True)
    )


def _authored_anchors(point: Point, examples: tuple[str, ...]) -> tuple[str, ...]:
    """A point's label, the label as an agent says it (plain_words.spoken_form) and the
    example sentences that make it."""
    spoken = spoken_form(point.label)
    return (point.label, *((spoken,) if spoken else ()), *examples)


def _point_by_verdict(point: Point, made: bool, text: str, reply: ReplyMeaning, anchors: np.ndarray) -> PointResult:
    """A point as a model judge decided it, quoting the clause closest to it."""
    _, clause = reply.best(anchors)
    quote = sentence_at(text, clause.start) if made and clause is not None else None
    return PointResult(point, made, False, quote, 1.0 if made else 0.0)


def _check_point(point: Point, text: str, reply: ReplyMeaning, anchors: np.ndarray, hints: bool) -> PointResult:
    negated_quote = None
    if hints:
        for pattern in point.says or speech_act_hints(point.label):
            for match in compiled_pattern(pattern).finditer(text):
                if not is_negated(text, match.start()):
                    if point in _KEYWORD_POINTS and KEYWORD_CREDIT < 1:
                        return _keyword_said(point, reply, anchors, sentence_at(text, match.start()))
                    return PointResult(point, True, False, sentence_at(text, match.start()), 1.0)
                negated_quote = negated_quote or sentence_at(text, match.start())
        # A keyword said in a negation ("no interest", "couldn't get access") is often the
        # right answer; only an author's own pattern says that the negation is wrong.
        if negated_quote is not None and point.says and point not in _KEYWORD_POINTS:
            return PointResult(point, False, True, negated_quote, 0.0)
    similarity, clause = reply.best(anchors)
    made_degree = meaning.degree(similarity)
    made = made_degree >= MADE_DEGREE
    quote = sentence_at(text, clause.start) if made and clause is not None else None
    return PointResult(point, made, False, quote, made_degree)


def _keyword_said(point: Point, reply: ReplyMeaning, anchors: np.ndarray, quote: str) -> PointResult:
    """An upstream keyword said: the point's degree is at least KEYWORD_CREDIT, more when
    the reply also means it."""
    similarity, _clause = reply.best(anchors)
    made_degree = max(meaning.degree(similarity), KEYWORD_CREDIT)
    return PointResult(point, made_degree >= MADE_DEGREE, False, quote, made_degree)


def praise_for(point: Point) -> str:
    """What to say when a reply makes `point`: its `praise`, else its criterion and label."""
    return point.praise or f"{point.criterion}: {point.label}."


def _first_criterion(judgement: Judgement) -> str:
    return next(iter(judgement.criteria), TONE_CRITERION)


def _unique(advice: list[Coaching]) -> list[Coaching]:
    seen: set[str] = set()
    return [item for item in advice if not (item.text in seen or seen.add(item.text))]
