"""What `chattrain scenarios try` shows an author: how the judge reads sample replies to a
scenario, which points each makes and why, and which points no example reply makes.

Plain functions over a loaded scenario; the command (shared/cli/main.py) prints them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.training.judge import Judgement, judge_reply, line_points


@dataclass(frozen=True)
class SampleReply:
    """A reply to customer line `line` (1-based); `label` is a trainer's score, if given."""

    line: int
    text: str
    name: str
    label: int | None = None


@dataclass(frozen=True)
class TriedReply:
    sample: SampleReply
    judgement: Judgement


class SampleFileError(ValueError):
    """A replies file that cannot be read, with the row and the reason."""


def example_replies(scenario: Any) -> list[SampleReply]:
    """The scenario's own `examples`, one sample per example."""
    return [
        SampleReply(index, text, f"line {index} example {n}")
        for index, message in enumerate(scenario.bot_messages, start=1)
        for n, text in enumerate(message.examples, start=1)
    ]


def read_sample_file(path: Path, scenario: Any) -> list[SampleReply]:
    """Replies from a tab-separated file with a header row naming at least `line` and
    `reply` (and optionally `id` and `score`), as in eval/feedback/replies.tsv."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or not {"line", "reply"} <= set(rows[0]):
        raise SampleFileError(f"{path}: needs a header row with the columns 'line' and 'reply' (tab-separated)")
    samples = []
    for number, row in enumerate(rows, start=2):
        line = (row.get("line") or "").strip()
        if not line.isdigit() or not 1 <= int(line) <= len(scenario.bot_messages):
            raise SampleFileError(
                f"{path}, row {number}: 'line' must be a customer line number from 1 to {len(scenario.bot_messages)}"
            )
        score = (row.get("score") or "").strip()
        if score and not score.isdigit():
            raise SampleFileError(f"{path}, row {number}: 'score' must be a whole number from 0 to 100")
        name = (row.get("id") or "").strip() or f"row {number}"
        samples.append(SampleReply(int(line), row.get("reply") or "", name, int(score) if score else None))
    return samples


def try_replies(scenario: Any, samples: Iterable[SampleReply]) -> list[TriedReply]:
    return [TriedReply(sample, judge_reply(scenario, sample.line - 1, sample.text)) for sample in samples]


def warnings_for(scenario: Any, tried: list[TriedReply]) -> list[str]:
    """What an author should look at: lines without examples, points that no sample makes."""
    warnings = []
    for index, message in enumerate(scenario.bot_messages, start=1):
        on_line = [t for t in tried if t.sample.line == index]
        if not message.examples:
            warnings.append(f"line {index}: no example replies (add one to three under `examples`)")
        made = {r.point.label for t in on_line for r in t.judgement.points if r.made}
        for point in line_points(scenario, index - 1):
            if on_line and point.label not in made:
                warnings.append(f"line {index}: no sample reply makes the point '{point.label}'")
    return warnings
