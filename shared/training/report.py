"""The end-of-session report: an overall score, per-criterion scores, and strengths and
improvements that quote the trainee's own lines.

The overall score uses the per-reply formula (see scoring.py) over the whole conversation:

* Keywords (60 %): every scripted customer line's expected keywords, each met only by a
  reply to that line, pooled with the scenario's required keywords, each met by any
  reply. Lines the trainee never answered count as missed, so ending early costs points.
* Rubric (40 %): each criterion's evidence items count as found when any reply has them;
  a forbidden phrase in any reply sets that criterion to 0.

Because an item only ever changes from missed to found as content is added, more good
content (in a reply or as an extra reply) never lowers the overall score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from shared.scenarios.keywords import keyword_matches
from shared.training.scoring import (
    CriterionCheck,
    ReplyFeedback,
    check_criterion,
    combine_parts,
    criterion_advice,
    evidence_items,
    keyword_label,
    merge_checks,
    rubric_coverage,
    score_reply,
)

QUOTE_CHARS = 160
CUSTOMER_QUOTE_CHARS = 80
MAX_EVIDENCE = 3
STRENGTH_MIN_SCORE = 70
WEAK_BELOW_SCORE = 50


@dataclass(frozen=True)
class TraineeTurn:
    """One trainee message. `customer_turn_index` indexes `bot_messages` for the customer
    line it answers; it may be past the end once the script is over."""

    message_id: int
    content: str
    timestamp: str  # ISO 8601, UTC
    customer_turn_index: int


@dataclass(frozen=True)
class _ScriptLine:
    """One scripted customer line and how the trainee's replies to it did."""

    index: int
    content: str
    expected: tuple[str, ...]
    answers: tuple[int, ...]  # positions in the turns sequence
    missed: tuple[str, ...]


def build_report(
    scenario: Any, turns: Sequence[TraineeTurn], *, started_at: str, ended_at: str, ended_by: str
) -> dict:
    """The JSON-serialisable end-of-session report for a scenario and the trainee's turns."""
    rubric = tuple(scenario.rubric)
    required = tuple(scenario.completion.required_keywords)
    feedback = [
        score_reply(turn.content, _expected_for(scenario, turn.customer_turn_index), rubric) for turn in turns
    ]
    turn_checks = [[check_criterion(turn.content, criterion) for criterion in rubric] for turn in turns]
    conversation_checks = [
        _conversation_check(criterion, [checks[i] for checks in turn_checks]) for i, criterion in enumerate(rubric)
    ]
    lines = _script_lines(scenario, turns, feedback)
    required_met = [kw for kw in required if any(keyword_matches(turn.content, kw) for turn in turns)]
    required_missed = [kw for kw in required if kw not in required_met]

    keyword_total = sum(len(line.expected) for line in lines) + len(required)
    keyword_met = sum(len(line.expected) - len(line.missed) for line in lines) + len(required_met)
    keyword_coverage = keyword_met / keyword_total if keyword_total else None

    return {
        "scenario": {"slug": scenario.slug, "title": scenario.title},
        "overall_score": combine_parts(keyword_coverage, rubric_coverage(conversation_checks)),
        "criteria": [
            {
                "name": check.criterion.name,
                "weight": float(check.criterion.weight),
                "score": check.score,
                "evidence": _criterion_evidence(turns, i, turn_checks),
            }
            for i, check in enumerate(conversation_checks)
        ],
        "required_keywords": {"met": required_met, "missed": required_missed},
        "per_turn": [
            {"message_id": turn.message_id, "score": fb.score, "matched": list(fb.matched), "missed": list(fb.missed)}
            for turn, fb in zip(turns, feedback)
        ],
        "strengths": _strengths(turns, lines, conversation_checks, turn_checks, required_met),
        "improvements": _improvements(turns, lines, conversation_checks, turn_checks, required_missed),
        "exchanges": len(turns),
        "duration_seconds": _duration_seconds(started_at, ended_at),
        "ended_by": ended_by,
    }


def trim_quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` chars with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if flat[limit - 1] != " ":
        # The cut falls inside a word: drop the partial word, unless that would throw
        # away most of the quote (one very long "word", such as a URL).
        space = cut.rfind(" ")
        if space >= limit // 2:
            cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _expected_for(scenario: Any, customer_turn_index: int) -> tuple[str, ...]:
    bot_messages = scenario.bot_messages
    if 0 <= customer_turn_index < len(bot_messages):
        return tuple(bot_messages[customer_turn_index].expected_keywords)
    return ()


def _conversation_check(criterion: Any, checks: list[CriterionCheck]) -> CriterionCheck:
    if checks:
        return merge_checks(checks)
    items = evidence_items(criterion)
    return CriterionCheck(criterion, items, (False,) * len(items), ())


def _script_lines(scenario: Any, turns: Sequence[TraineeTurn], feedback: list[ReplyFeedback]) -> list[_ScriptLine]:
    lines = []
    for index, message in enumerate(scenario.bot_messages):
        answers = tuple(pos for pos, turn in enumerate(turns) if turn.customer_turn_index == index)
        met = {keyword for pos in answers for keyword in feedback[pos].matched}
        expected = tuple(message.expected_keywords)
        missed = tuple(keyword for keyword in expected if keyword not in met)
        lines.append(_ScriptLine(index, message.content, expected, answers, missed))
    return lines


def _sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if part.strip()]


def _quote_where(text: str, contains: Callable[[str], bool]) -> str:
    """The first sentence of `text` that contains the evidence, else the whole text."""
    for sentence in _sentences(text):
        if contains(sentence):
            return trim_quote(sentence)
    return trim_quote(text)


def _evidence(turn: TraineeTurn, quote: str) -> dict:
    return {"message_id": turn.message_id, "quote": quote}


def _criterion_evidence(turns: Sequence[TraineeTurn], criterion_index: int, turn_checks: list) -> list[dict]:
    """Quotes of the replies where the criterion's evidence items appeared."""
    evidence = []
    for turn, checks in zip(turns, turn_checks):
        check = checks[criterion_index]
        found = [item for item, hit in zip(check.items, check.found) if hit]
        if found:
            evidence.append(_evidence(turn, _quote_where(turn.content, found[0].found_in)))
        if len(evidence) == MAX_EVIDENCE:
            break
    return evidence


def _labels(keywords: Sequence[str]) -> str:
    return ", ".join(keyword_label(keyword) for keyword in keywords)


def _strengths(
    turns: Sequence[TraineeTurn],
    lines: list[_ScriptLine],
    checks: list[CriterionCheck],
    turn_checks: list,
    required_met: list[str],
) -> list[dict]:
    strengths = []
    for i, check in enumerate(checks):
        if not check.has_items or check.violated or check.score < STRENGTH_MIN_SCORE:
            continue
        said = [item.value for item, hit in zip(check.items, check.found) if hit and item.kind != "pattern"]
        detail = f"you said {_labels(said[:3])}" if said else (check.criterion.description or "").strip().rstrip(".")
        strengths.append(
            {
                "text": f"{check.criterion.name} ({check.score}/100)" + (f": {detail}." if detail else "."),
                "evidence": _criterion_evidence(turns, i, turn_checks),
            }
        )

    scripted = [line for line in lines if line.expected and line.answers]
    complete = [line for line in scripted if not line.missed]
    if complete:
        strengths.append(
            {
                "text": f"Covered every expected point in {len(complete)} of {len(lines)} scripted customer lines.",
                "evidence": [
                    _evidence(turns[line.answers[0]], trim_quote(turns[line.answers[0]].content))
                    for line in complete[:MAX_EVIDENCE]
                ],
            }
        )

    if required_met:
        evidence: list[dict] = []
        for keyword in required_met:
            turn = next(turn for turn in turns if keyword_matches(turn.content, keyword))
            if len(evidence) < MAX_EVIDENCE and all(e["message_id"] != turn.message_id for e in evidence):
                quote = _quote_where(turn.content, lambda sentence, kw=keyword: keyword_matches(sentence, kw))
                evidence.append(_evidence(turn, quote))
        strengths.append({"text": f"Covered the required points: {_labels(required_met)}.", "evidence": evidence})
    return strengths


def _improvements(
    turns: Sequence[TraineeTurn],
    lines: list[_ScriptLine],
    checks: list[CriterionCheck],
    turn_checks: list,
    required_missed: list[str],
) -> list[dict]:
    improvements = []
    for i, check in enumerate(checks):
        for phrase in check.forbidden_used:
            users = [turn for turn, per_turn in zip(turns, turn_checks) if phrase in per_turn[i].forbidden_used]
            improvements.append(
                {
                    "text": f"Avoid saying “{phrase}”; it counts against {check.criterion.name}.",
                    "evidence": [
                        _evidence(turn, _quote_where(turn.content, lambda s, p=phrase: keyword_matches(s, p)))
                        for turn in users[:MAX_EVIDENCE]
                    ],
                }
            )

    for line in lines:
        if line.answers and line.missed:
            customer = trim_quote(line.content, CUSTOMER_QUOTE_CHARS)
            improvements.append(
                {
                    "text": f"When the customer said “{customer}”, your reply did not mention {_labels(line.missed)}.",
                    "evidence": [
                        _evidence(turns[pos], trim_quote(turns[pos].content)) for pos in line.answers[:MAX_EVIDENCE]
                    ],
                }
            )

    unanswered = [line for line in lines if not line.answers]
    if unanswered:
        points = sum(len(line.expected) for line in unanswered)
        verb = "was" if len(unanswered) == 1 else "were"
        text = f"{len(unanswered)} of {len(lines)} scripted customer lines {verb} not answered"
        text += f"; {_plural(points, 'expected point')} counted as missed." if points else "."
        improvements.append({"text": text, "evidence": []})

    if required_missed:
        text = f"Never mentioned the required points: {_labels(required_missed)}."
        improvements.append({"text": text, "evidence": []})

    for check in checks:
        if check.has_items and not check.violated and check.score < WEAK_BELOW_SCORE:
            advice = criterion_advice(check.criterion, check.missing_items(), set())
            improvements.append({"text": f"{check.criterion.name} ({check.score}/100): {advice}", "evidence": []})
    return improvements


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _duration_seconds(started_at: str, ended_at: str) -> int:
    started = _parse_utc(started_at)
    ended = _parse_utc(ended_at)
    return max(0, round((ended - started).total_seconds()))


def _parse_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    # Naive timestamps are UTC by this project's convention.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
