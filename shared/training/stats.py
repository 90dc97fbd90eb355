"""Per-scenario statistics for trainers: how many sessions, how many completed, how well
trainees scored and which keywords they miss most."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence

COMPLETED_STATUS = "completed"


def scenario_stats(sessions: Sequence[Mapping], *, top_missed: int = 10) -> dict:
    """Summarise one scenario's sessions (`{status, score, missed_keywords}` each).

    `completion_rate` is completed / sessions (None when there are no sessions).
    `mean_score` (rounded to one decimal) and `median_score` cover the sessions that have
    a score, and are None when none has. `most_missed_keywords` counts each keyword at
    most once per session, most missed first, ties in alphabetical order, so one trainee
    repeating a miss does not outweigh many trainees missing it once.
    """
    total = len(sessions)
    completed = sum(1 for session in sessions if session.get("status") == COMPLETED_STATUS)
    scores = [session["score"] for session in sessions if session.get("score") is not None]
    missed = Counter(keyword for session in sessions for keyword in set(session.get("missed_keywords") or ()))
    ranked = sorted(missed.items(), key=lambda item: (-item[1], item[0]))
    return {
        "sessions": total,
        "completed": completed,
        "completion_rate": round(completed / total, 4) if total else None,
        "mean_score": round(statistics.fmean(scores), 1) if scores else None,
        "median_score": statistics.median(scores) if scores else None,
        "most_missed_keywords": [
            {"keyword": keyword, "count": count} for keyword, count in ranked[: max(0, top_missed)]
        ],
    }
