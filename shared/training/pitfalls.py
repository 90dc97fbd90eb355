"""The pitfalls a trainee reply falls into: the line's and the scenario's own (by meaning
and by their `says` hints), the rules of the scenario's documents (documents.py), the
rubric's `forbidden` phrases, the built-in ones (tone.py), and not answering the customer.

judge.py calls `pitfall_hits` with the reply's clauses and the line's point anchors, so a
clause counts against a pitfall only when it is closer to the pitfall than to any point
(meaning.py says how close).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from shared.llm.judging import ModelVerdict
from shared.scenarios.keywords import keyword_alternatives, keyword_regex
from shared.scenarios.model import Pitfall, Point
from shared.training import meaning
from shared.training.documents import DocumentRule, document_rules
from shared.training.language import (
    Clause,
    compiled_pattern,
    is_negated,
    negation_count,
    sentence_at,
)
from shared.training.meaning import ReplyMeaning, anchor_matrix
from shared.training.pattern_scan import any_pattern_occurs
from shared.training.tone import BUILT_IN_PITFALLS, TAKES_OFFERED_SECRET, TONE_CRITERION, offers_secret, tone_criterion


@dataclass(frozen=True)
class PitfallHit:
    """A pitfall the reply fell into, with the sentence that did it."""

    pitfall: Pitfall
    quote: str


def pitfall_hits(
    scenario: Any,
    turn_index: int,
    text: str,
    reply: ReplyMeaning,
    points: Sequence[Point],
    point_anchors: Sequence[np.ndarray],
    hints: bool,
) -> tuple[PitfallHit, ...]:
    """Every pitfall the reply to line `turn_index` falls into, each with the sentence that
    did it. `hints` False leaves out the authored pitfalls' `says` patterns."""
    hits = tuple(_authored_and_pattern_hits(scenario, turn_index, text, reply, point_anchors, hints))
    hits += tuple(_rule_hits(scenario, text, reply, point_anchors))
    if points and not _is_relevant(scenario, turn_index, reply, point_anchors):
        off_topic = _OFF_TOPIC.model_copy(update={"criterion": points[0].criterion or TONE_CRITERION})
        hits += (PitfallHit(off_topic, sentence_at(text, 0)),)
    return hits


def pitfalls_for_model(scenario: Any, turn_index: int) -> tuple[Pitfall, ...]:
    """The pitfalls a model judge is asked about: the line's and the scenario's own, and
    the documents' rules (the built-in ones and the rubric's phrases stay with patterns)."""
    line = scenario.bot_messages[turn_index] if 0 <= turn_index < len(scenario.bot_messages) else None
    own = (line.pitfalls if line is not None else ()) + tuple(getattr(scenario, "pitfalls", ()))
    return own + tuple(rule_pitfall(scenario, rule) for rule in document_rules(scenario))


def verdict_hits(
    scenario: Any, turn_index: int, text: str, reply: ReplyMeaning, verdict: ModelVerdict
) -> tuple[PitfallHit, ...]:
    """The pitfalls a model judge found (quoting the clause closest to each), a dismissive
    tone it found, and the pattern pitfalls (built-in, rubric), which are exact enough to
    keep whoever judges."""
    asked = pitfalls_for_model(scenario, turn_index)
    hits = tuple(
        PitfallHit(asked[index], _closest_sentence(text, reply, asked[index].label))
        for index in sorted(verdict.fell_into)
    )
    own = set(asked)
    pattern_pitfalls = [pitfall for pitfall in all_pitfalls(scenario, turn_index) if pitfall not in own]
    hits += tuple(_pattern_hits(pattern_pitfalls, scenario, turn_index, text))
    # A rude tone the patterns already caught is one hit, not two.
    if verdict.rude and not any(hit.pitfall.severity == "rude" for hit in hits):
        dismissive = _DISMISSIVE.model_copy(update={"criterion": tone_criterion(scenario.rubric)})
        hits += (PitfallHit(dismissive, sentence_at(text, 0)),)
    return hits


def _closest_sentence(text: str, reply: ReplyMeaning, label: str) -> str:
    similarity = reply.similarities(anchor_matrix((label,)))
    if similarity.size == 0:
        return sentence_at(text, 0)
    return sentence_at(text, reply.clauses[int(similarity.argmax())].start)


def _authored_and_pattern_hits(
    scenario: Any, turn_index: int, text: str, reply: ReplyMeaning, point_anchors: Sequence[np.ndarray], hints: bool
) -> Iterable[PitfallHit]:
    line = scenario.bot_messages[turn_index] if 0 <= turn_index < len(scenario.bot_messages) else None
    authored = set(line.pitfalls if line is not None else ()) | set(getattr(scenario, "pitfalls", ()))
    best_point = best_point_similarity(reply, point_anchors)
    for pitfall in all_pitfalls(scenario, turn_index):
        if pitfall in authored:
            quote = _meaning_hit(pitfall, text, reply, best_point)
            if quote is not None:
                yield PitfallHit(pitfall, quote)
                continue
            if not hints:
                continue
        yield from _pattern_hits((pitfall,), scenario, turn_index, text)


def _pattern_hits(pitfalls: Iterable[Pitfall], scenario: Any, turn_index: int, text: str) -> Iterable[PitfallHit]:
    """The pitfalls whose `says` pattern occurs outside a negation and not in words the
    customer's own line uses."""
    pitfalls = tuple(pitfalls)
    if not any_pattern_occurs(tuple(pattern for pitfall in pitfalls for pattern in pitfall.says), text):
        return
    line = scenario.bot_messages[turn_index] if 0 <= turn_index < len(scenario.bot_messages) else None
    customer_words = line.content.casefold() if line is not None else ""
    for pitfall in pitfalls:
        if pitfall.label == TAKES_OFFERED_SECRET and not offers_secret(customer_words, text):
            continue
        for pattern in pitfall.says:
            match = next(
                (
                    m
                    for m in compiled_pattern(pattern).finditer(text)
                    if not is_negated(text, m.start()) and m.group().casefold() not in customer_words
                ),
                None,
            )
            if match is not None:
                yield PitfallHit(pitfall, sentence_at(text, match.start()))
                break


# A dismissive tone a model judge found; patterns find theirs as "dismisses the customer".
_DISMISSIVE = Pitfall(
    criterion=TONE_CRITERION,
    label="dismissive or blaming tone",
    coach="Take the customer's worry seriously; acknowledge it instead of brushing it off or blaming them.",
    severity="rude",
)


# The pitfall the relevance check raises; like the built-in ones, every scenario has it.
_OFF_TOPIC = Pitfall(
    criterion=TONE_CRITERION,
    label="does not answer the customer",
    coach="Answer what the customer just asked before anything else.",
    severity="wrong",
)


def _is_relevant(scenario: Any, turn_index: int, reply: ReplyMeaning, point_anchors: Sequence[np.ndarray]) -> bool:
    """Whether any clause of the reply is about what the customer said or what a good reply
    does: at least RELEVANT_AT similar to the customer's line or to a point."""
    if not reply.clauses:
        return False
    line = anchor_matrix((scenario.bot_messages[turn_index].content,))
    best = max(float(reply.similarities(line).max()), *(float(reply.similarities(a).max()) for a in point_anchors))
    return best >= meaning.RELEVANT_AT


def best_point_similarity(reply: ReplyMeaning, point_anchors: Sequence[np.ndarray]) -> np.ndarray | None:
    if not point_anchors or not reply.clauses:
        return None
    return np.max(np.stack([reply.similarities(anchors) for anchors in point_anchors]), axis=0)


def _same_polarity(clause: Clause, described: str) -> bool:
    """Whether a clause says what a pitfall or rule describes rather than its denial: "we
    never ask for your password" does not do "asks for the password", while "you won't get
    any compensation" does "says there is no compensation". A whole sentence of several
    clauses goes by its negations all together."""
    negated = clause.negated if clause.negated is not None else negation_count(clause.text) % 2 == 1
    return negated == (negation_count(described) % 2 == 1)


def _rule_hits(
    scenario: Any, text: str, reply: ReplyMeaning, point_anchors: Sequence[np.ndarray]
) -> Iterable[PitfallHit]:
    """The scenario documents' prohibitions the reply breaks (documents.py), at most one."""
    rules = document_rules(scenario)
    if not rules or not reply.clauses:
        return
    best_point = best_point_similarity(reply, point_anchors)
    similarity = reply.vectors @ anchor_matrix(tuple(rule.act for rule in rules)).T
    for clause_index, rule_index in zip(
        *np.unravel_index(np.argsort(-similarity, axis=None), similarity.shape), strict=True
    ):
        value = float(similarity[clause_index, rule_index])
        if value < meaning.RULE_AT:
            return
        clause = reply.clauses[int(clause_index)]
        if not _same_polarity(clause, rules[int(rule_index)].act):
            continue
        if best_point is not None and value < float(best_point[clause_index]) + meaning.PITFALL_MARGIN:
            continue
        yield PitfallHit(rule_pitfall(scenario, rules[int(rule_index)]), sentence_at(text, clause.start))
        return


def rule_pitfall(scenario: Any, rule: DocumentRule) -> Pitfall:
    """A document's prohibition as a wrong-act pitfall whose coaching quotes the rule."""
    return Pitfall(
        criterion=tone_criterion(scenario.rubric),
        label=f"goes against the guide: {rule.act}",
        coach=f"The guide says: {rule.sentence}",
        severity="wrong",
    )


def _meaning_hit(pitfall: Pitfall, text: str, reply: ReplyMeaning, best_point: np.ndarray | None) -> str | None:
    """The sentence that says what an authored pitfall describes, if any: a clause, not
    turned around, close to the pitfall and closer to it than to any of the line's points."""
    similarity = reply.similarities(anchor_matrix((pitfall.label,)))
    for index in np.argsort(-similarity):
        value = float(similarity[index])
        if value < meaning.PITFALL_AT:
            break
        clause = reply.clauses[int(index)]
        if not _same_polarity(clause, pitfall.label):
            continue
        if best_point is not None and value < float(best_point[index]) + meaning.PITFALL_MARGIN:
            continue
        return sentence_at(text, clause.start)
    return None


def all_pitfalls(scenario: Any, turn_index: int) -> tuple[Pitfall, ...]:
    """The pitfalls a reply to line `turn_index` is checked for: the line's, the
    scenario's, the rubric's forbidden phrases and the built-in ones."""
    line = scenario.bot_messages[turn_index] if 0 <= turn_index < len(scenario.bot_messages) else None
    return (line.pitfalls if line is not None else ()) + _scenario_pitfalls(scenario)


def _scenario_pitfalls(scenario: Any) -> tuple[Pitfall, ...]:
    return _scenario_pitfalls_cached(
        tuple(scenario.rubric),
        tuple(getattr(scenario, "pitfalls", ())),
        tuple(getattr(scenario, "built_in_pitfalls_off", ())),
        tuple(getattr(scenario, "built_in_pitfall_coach", ())),
    )


@lru_cache(maxsize=64)
def _scenario_pitfalls_cached(
    rubric: tuple, own: tuple[Pitfall, ...], built_ins_off: tuple[str, ...], built_in_coach: tuple[tuple[str, str], ...]
) -> tuple[Pitfall, ...]:
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
    coach = dict(built_in_coach)
    built_in = tuple(
        pitfall.model_copy(
            update={
                "criterion": tone if pitfall.criterion == TONE_CRITERION else pitfall.criterion,
                "coach": coach.get(pitfall.label, pitfall.coach),
            }
        )
        for pitfall in BUILT_IN_PITFALLS
        if pitfall.label not in built_ins_off
    )
    return own + forbidden + built_in
