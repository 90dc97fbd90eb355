"""Per-reply feedback: the judge's verdict on one trainee reply (judge.py), in the shape
that is stored in the message's metadata and sent in the `feedback` frame."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shared.llm.judging import ModelVerdict
from shared.training.judge import Coaching, judge_reply


def round_half_up(value: float) -> int:
    """Round .5 up (Python's round() rounds half to even, which would surprise readers)."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class ReplyFeedback:
    """Feedback on one trainee reply. `criteria` maps each rubric criterion judged on this
    line to 0..100; `worked` and `improve` are coaching sentences with their criterion;
    `matched`/`missed` name the line's points the reply made and missed."""

    score: int
    criteria: dict[str, int]
    worked: list[Coaching]
    improve: list[Coaching]
    matched: list[str]
    missed: list[str]

    @property
    def suggestions(self) -> list[str]:
        """The `improve` sentences alone, for clients that show a list of strings."""
        return [item.text for item in self.improve]

    def to_json(self) -> dict:
        """A JSON-serialisable copy, as stored in a message's metadata and sent in the
        `feedback` frame (with the message id)."""
        return {
            "score": self.score,
            "criteria": [{"name": name, "score": score} for name, score in self.criteria.items()],
            "worked": [item.to_json() for item in self.worked],
            "improve": [item.to_json() for item in self.improve],
            "suggestions": self.suggestions,
            "matched": list(self.matched),
            "missed": list(self.missed),
        }


def reply_feedback(scenario: Any, turn_index: int, text: str, verdict: ModelVerdict | None = None) -> ReplyFeedback:
    """The feedback on a trainee reply to customer line `turn_index` (0-based); `verdict`,
    when a model judged the reply (shared/llm/judging.py)."""
    judgement = judge_reply(scenario, turn_index, text, verdict=verdict)
    return ReplyFeedback(
        score=judgement.score,
        criteria=dict(judgement.criteria),
        worked=judgement.worked(),
        improve=judgement.improve(),
        matched=judgement.made_labels(),
        missed=judgement.missed_labels(),
    )
