"""Scored sessions as CSV: one row per session and rubric criterion."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

COLUMNS = (
    "user_id",
    "display_name",
    "session_id",
    "scenario_slug",
    "scenario_title",
    "started_at",
    "ended_at",
    "ended_by",
    "duration_seconds",
    "overall_score",
    "llm_overall_score",
    "criterion",
    "criterion_weight",
    "criterion_score",
    "llm_criterion_score",
)

# A cell starting with one of these is a formula to a spreadsheet: names and titles are
# typed by people, so such a cell is prefixed with an apostrophe and read as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str | None:
    if value and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def score_rows(session: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The CSV rows of one scored session: one per criterion of its rubric, or one with
    the criterion columns empty when the scenario has no rubric."""
    report = session["report"]
    common = {
        "user_id": session["user_id"],
        "display_name": _text(session["display_name"]),
        "session_id": session["session_id"],
        "scenario_slug": session["scenario_slug"],
        "scenario_title": _text(session["scenario_title"]),
        "started_at": session["started_at"],
        "ended_at": session["ended_at"],
        "ended_by": session["ended_by"],
        "duration_seconds": report["duration_seconds"],
        "overall_score": report["overall_score"],
        "llm_overall_score": report["llm_overall_score"],
    }
    criteria = report["criteria"]
    if not criteria:
        yield common
        return
    for criterion in criteria:
        yield {
            **common,
            "criterion": _text(criterion["name"]),
            "criterion_weight": criterion["weight"],
            "criterion_score": criterion["score"],
            "llm_criterion_score": report["llm_criteria"].get(criterion["name"]),
        }


def write_scores_csv(sessions: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write the header and every session's rows as they come (nothing is gathered in
    memory); returns the number of sessions written. An empty cell is a missing value
    (a criterion not judged, no LLM grading)."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for session in sessions:
        writer.writerows(score_rows(session))
        count += 1
    return count
