"""The end-of-session report: an overall score, per-criterion scores that quote the lines
that earned them, and strengths and improvements in the rubric's words.

Every trainee reply is judged as in its `feedback` frame (judge.py). Then:

* **A scripted customer line's score** is its best reply's score, unless another reply to
  the same line fell into a wrong or rude pitfall: then it is at most that reply's score.
  A line the trainee never answered scores 0, so ending early costs points.
* **Replies after the script** make no points; one that falls into a wrong or rude pitfall
  counts as one more line, at its score.
* **Overall** is the mean of the line scores.
* **A criterion's score** is the mean, over the lines where it was judged, of its score
  on the line's best reply (0 for an unanswered line that has points for it), capped the
  same way by pitfalls of that criterion in any reply.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.scenarios.keywords import keyword_alternatives, keyword_matches
from shared.training.judge import MAX_COACHING, Judgement, judge_reply, line_points, praise_for
from shared.training.scoring import round_half_up

QUOTE_CHARS = 160
CUSTOMER_QUOTE_CHARS = 80
MAX_EVIDENCE = 3
STRENGTH_MIN_SCORE = 70
SEVERE = ("wrong", "rude")


@dataclass(frozen=True)
class TraineeTurn:
    """One trainee message. `customer_turn_index` indexes `bot_messages` for the customer
    line it answers; it may be past the end once the script is over."""

    message_id: int
    content: str
    timestamp: str  # ISO 8601, UTC
    customer_turn_index: int


def trainee_turns(messages: Sequence[dict[str, Any]]) -> list[TraineeTurn]:
    """A session's stored messages (in id order) as the trainee's turns: each answers the
    customer line numbered by the assistant messages before it, minus one."""
    turns, customer_lines = [], 0
    for message in messages:
        if message["role"] == "assistant":
            customer_lines += 1
        elif message["role"] == "user":
            turns.append(TraineeTurn(message["id"], message["content"], message["timestamp"], customer_lines - 1))
    return turns


@dataclass(frozen=True)
class _Judged:
    turn: TraineeTurn
    judgement: Judgement

    @property
    def severe(self) -> bool:
        return any(hit.pitfall.severity in SEVERE for hit in self.judgement.pitfalls) or any(
            r.contradicted for r in self.judgement.points
        )


def build_report(scenario: Any, turns: Sequence[TraineeTurn], *, started_at: str, ended_at: str, ended_by: str) -> dict:
    """The JSON-serialisable end-of-session report for a scenario and the trainee's turns."""
    judged = [_Judged(turn, judge_reply(scenario, turn.customer_turn_index, turn.content)) for turn in turns]
    script_length = len(scenario.bot_messages)
    answers = [[j for j in judged if j.turn.customer_turn_index == index] for index in range(script_length)]
    after_script = [j for j in judged if not 0 <= j.turn.customer_turn_index < script_length]

    line_scores = [_line_score(replies) for replies in answers]
    line_scores += [j.judgement.score for j in after_script if j.severe]
    required = tuple(scenario.completion.required_keywords)
    required_met = [kw for kw in required if any(keyword_matches(turn.content, kw) for turn in turns)]

    return {
        "scenario": {"slug": scenario.slug, "title": scenario.title},
        "overall_score": round_half_up(statistics.fmean(line_scores)) if line_scores else 0,
        "criteria": [_criterion(scenario, criterion, answers, judged) for criterion in scenario.rubric],
        # Named by their first alternative: a trainee or trainer never reads `a|b` syntax.
        "required_keywords": {
            "met": [keyword_alternatives(kw)[0] for kw in required_met],
            "missed": [keyword_alternatives(kw)[0] for kw in required if kw not in required_met],
        },
        "per_turn": [
            {
                "message_id": j.turn.message_id,
                "score": j.judgement.score,
                "matched": j.judgement.made_labels(),
                "missed": j.judgement.missed_labels(),
            }
            for j in judged
        ],
        "strengths": _strengths(scenario, answers),
        "improvements": _improvements(scenario, answers, judged),
        "exchanges": len(turns),
        "duration_seconds": _duration_seconds(started_at, ended_at),
        "ended_by": ended_by,
    }


def _best(replies: Sequence[_Judged]) -> _Judged | None:
    return max(replies, key=lambda j: j.judgement.score, default=None)


def _line_score(replies: Sequence[_Judged]) -> int:
    if not replies:
        return 0
    score = max(j.judgement.score for j in replies)
    return min([score] + [j.judgement.score for j in replies if j.severe])


def _criterion(scenario: Any, criterion: Any, answers: list[list[_Judged]], judged: list[_Judged]) -> dict:
    name = criterion.name
    scores: list[int] = []
    for index, replies in enumerate(answers):
        best = _best(replies)
        if best is None:
            if any(point.criterion == name for point in line_points(scenario, index)):
                scores.append(0)
            continue
        if name not in best.judgement.criteria:
            continue
        capped = [j.judgement.criteria[name] for j in replies if j.severe and name in j.judgement.criteria]
        scores.append(min([best.judgement.criteria[name]] + capped))
    scores += [
        j.judgement.criteria[name]
        for j in judged
        if not 0 <= j.turn.customer_turn_index < len(answers) and j.severe and name in j.judgement.criteria
    ]
    evidence = [
        _evidence(j.turn, r.quote)
        for j in judged
        for r in j.judgement.points
        if r.made and r.point.criterion == name and r.quote
    ]
    return {
        "name": name,
        "weight": float(criterion.weight),
        "score": round_half_up(statistics.fmean(scores)) if scores else None,
        "evidence": _unique_evidence(evidence)[:MAX_EVIDENCE],
    }


def _strengths(scenario: Any, answers: list[list[_Judged]]) -> list[dict]:
    """One strength per point made on a line whose best reply scored well, best lines first."""
    strengths = []
    ranked = sorted((best for replies in answers if (best := _best(replies))), key=lambda j: -j.judgement.score)
    for best in ranked:
        if best.judgement.score < STRENGTH_MIN_SCORE or best.severe:
            continue
        made = sorted((r for r in best.judgement.points if r.made), key=lambda r: -r.point.weight)
        for result in made[:MAX_COACHING]:
            strengths.append(
                {
                    "text": praise_for(result.point),
                    "criterion": result.point.criterion,
                    "evidence": [_evidence(best.turn, result.quote or "")],
                }
            )
    return _unique_text(strengths)


def _improvements(scenario: Any, answers: list[list[_Judged]], judged: list[_Judged]) -> list[dict]:
    """Pitfalls first (each with the line that fell into it), then what the weakest
    answered lines missed, then unanswered lines and required keywords never said."""
    improvements = []
    for j in judged:
        for hit in j.judgement.pitfalls:
            improvements.append(
                {
                    "text": hit.pitfall.coach,
                    "criterion": hit.pitfall.criterion,
                    "evidence": [_evidence(j.turn, hit.quote)],
                }
            )
        for result in j.judgement.points:
            if result.contradicted:
                improvements.append(
                    {
                        "text": result.point.coach,
                        "criterion": result.point.criterion,
                        "evidence": [_evidence(j.turn, result.quote or "")],
                    }
                )
    for index, replies in enumerate(answers):
        best = _best(replies)
        if best is None or best.judgement.score >= STRENGTH_MIN_SCORE:
            continue
        customer = _trim(scenario.bot_messages[index].content, CUSTOMER_QUOTE_CHARS)
        for item in best.judgement.improve():
            improvements.append(
                {
                    "text": f"When the customer said “{customer}”: {item.text}",
                    "criterion": item.criterion,
                    "evidence": [_evidence(best.turn, _trim(best.turn.content))],
                }
            )
    unanswered = [index for index, replies in enumerate(answers) if not replies]
    if unanswered:
        verb = "was" if len(unanswered) == 1 else "were"
        improvements.append(
            {
                "text": f"{len(unanswered)} of {len(answers)} customer lines {verb} not answered; each counts as 0.",
                "criterion": None,
                "evidence": [],
            }
        )
    missed = [
        kw
        for kw in scenario.completion.required_keywords
        if not any(keyword_matches(j.turn.content, kw) for j in judged)
    ]
    if missed:
        improvements.append(
            {
                "text": "The session never covered: "
                + ", ".join(f"“{keyword_alternatives(kw)[0]}”" for kw in missed)
                + ".",
                "criterion": None,
                "evidence": [],
            }
        )
    return _unique_text(improvements)


def _trim(text: str, limit: int = QUOTE_CHARS) -> str:
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


def _evidence(turn: TraineeTurn, quote: str) -> dict:
    return {"message_id": turn.message_id, "quote": _trim(quote)}


def _unique_evidence(evidence: list[dict]) -> list[dict]:
    seen: set[tuple[int, str]] = set()
    return [
        e for e in evidence if not ((e["message_id"], e["quote"]) in seen or seen.add((e["message_id"], e["quote"])))
    ]


def _unique_text(items: list[dict]) -> list[dict]:
    seen: set[str] = set()
    return [item for item in items if not (item["text"] in seen or seen.add(item["text"]))]


def _duration_seconds(started_at: str, ended_at: str) -> int:
    started = _parse_utc(started_at)
    ended = _parse_utc(ended_at)
    return max(0, round((ended - started).total_seconds()))


def _parse_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    # Naive timestamps are UTC by this project's convention.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
