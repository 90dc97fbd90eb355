"""`make eval`: score every labelled reply in replies.tsv with ChatTrain's judge and print
how far it agrees with the trainer's scores, for the tuning part and the held-back part.

    python eval/feedback/run.py [--show-worst N] [--split tune|held] [--targets]

Spearman and Pearson correlations, the share of same-line (good, stuffed) pairs where the
good reply scores higher, the mean score by kind, and the mean absolute error. With
--targets the exit status is 1 when the held-back part misses a target of issue 21.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.scenarios.loader import load_scenarios
from shared.training.judge import judge_reply

HERE = Path(__file__).resolve().parent
REPLIES = HERE / "replies.tsv"
SCENARIOS = HERE.parent.parent / "scenarios"
GOOD_KINDS = ("good_plain", "good_scenario_words")
BAD_KINDS = ("stuffed", "rude", "wrong", "off_topic")
KINDS = GOOD_KINDS + ("mediocre",) + BAD_KINDS

# Issue 21's targets, checked on the held-back part.
MIN_SPEARMAN = 0.8
MIN_SCENARIO_SPEARMAN = 0.7
MIN_GOOD_OVER_STUFFED = 0.95
MAX_BAD_MEAN = 25
MIN_GOOD_MEAN = 70


@dataclass(frozen=True)
class Scored:
    id: str
    scenario: str
    line: int
    kind: str
    label: int
    split: str
    reply: str
    score: int


def read_replies(path: Path = REPLIES) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_all(roots: list[Path]) -> dict[str, Any]:
    """Every scenario under the given folders, by slug."""
    by_slug: dict[str, Any] = {}
    for root in roots:
        scenarios, errors = load_scenarios(root)
        if errors:
            raise SystemExit("\n".join(str(error) for error in errors))
        by_slug.update({scenario.slug: scenario for scenario in scenarios})
    return by_slug


def score_all(
    rows: list[dict[str, str]], by_slug: dict[str, Any], *, hints: bool = True
) -> tuple[list[Scored], list[float]]:
    """Each row with the judge's score, and the time each judgement took (ms)."""
    missing = sorted({row["scenario"] for row in rows} - set(by_slug))
    if missing:
        raise SystemExit(f"replies name scenarios that are not loaded: {', '.join(missing)}")
    scored, timings = [], []
    for row in rows:
        started = time.perf_counter()
        judgement = judge_reply(by_slug[row["scenario"]], int(row["line"]) - 1, row["reply"], hints=hints)
        timings.append((time.perf_counter() - started) * 1000)
        scored.append(
            Scored(
                row["id"],
                row["scenario"],
                int(row["line"]),
                row["kind"],
                int(row["score"]),
                row["split"],
                row["reply"],
                judgement.score,
            )
        )
    return scored, timings


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def pearson(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return float("nan")
    return statistics.correlation(xs, ys)


def spearman(xs: list[float], ys: list[float]) -> float:
    return pearson(ranks(xs), ranks(ys))


def good_over_stuffed(items: list[Scored]) -> tuple[int, int]:
    """(pairs where the good reply scores higher, all same-line good/stuffed pairs)."""
    wins = total = 0
    for good in (s for s in items if s.kind in GOOD_KINDS):
        for stuffed in (s for s in items if s.kind == "stuffed" and (s.scenario, s.line) == (good.scenario, good.line)):
            total += 1
            wins += good.score > stuffed.score
    return wins, total


@dataclass(frozen=True)
class Summary:
    split: str
    count: int
    spearman: float
    pearson: float
    good_over_stuffed: tuple[int, int]
    mean_by_kind: dict[str, float]
    mae: float

    def misses(self) -> list[str]:
        """The issue's targets this part misses."""
        missed = []
        if not self.spearman >= MIN_SPEARMAN:
            missed.append(f"Spearman {self.spearman:.2f} < {MIN_SPEARMAN}")
        wins, total = self.good_over_stuffed
        if total and wins / total < MIN_GOOD_OVER_STUFFED:
            missed.append(f"good over stuffed {wins}/{total} < {MIN_GOOD_OVER_STUFFED:.0%}")
        for kind in BAD_KINDS:
            if self.mean_by_kind.get(kind, 0) > MAX_BAD_MEAN:
                missed.append(f"{kind} mean {self.mean_by_kind[kind]:.1f} > {MAX_BAD_MEAN}")
        good = [s for k in GOOD_KINDS for s in [self.mean_by_kind.get(k)] if s is not None]
        if good and min(good) < MIN_GOOD_MEAN:
            missed.append(f"good mean {min(good):.1f} < {MIN_GOOD_MEAN}")
        return missed


def summarise(split: str, items: list[Scored]) -> Summary:
    labels = [float(s.label) for s in items]
    scores = [float(s.score) for s in items]
    by_kind = {
        kind: statistics.fmean(s.score for s in items if s.kind == kind)
        for kind in KINDS
        if any(s.kind == kind for s in items)
    }
    return Summary(
        split=split,
        count=len(items),
        spearman=spearman(scores, labels),
        pearson=pearson(scores, labels),
        good_over_stuffed=good_over_stuffed(items),
        mean_by_kind=by_kind,
        mae=statistics.fmean(abs(s.score - s.label) for s in items),
    )


def print_summaries(summaries: list[Summary], parts: list[list[Scored]]) -> None:
    header = f"{'':28}" + "".join(f"{s.split + f' ({s.count})':>16}" for s in summaries)
    print(header)
    print(f"{'Spearman':28}" + "".join(f"{s.spearman:>16.3f}" for s in summaries))
    print(f"{'Pearson':28}" + "".join(f"{s.pearson:>16.3f}" for s in summaries))
    print(
        f"{'good over stuffed (pairs)':28}"
        + "".join(f"{f'{w}/{t} ({w / t:.0%})' if t else '-':>16}" for s in summaries for w, t in [s.good_over_stuffed])
    )
    print(f"{'mean absolute error':28}" + "".join(f"{s.mae:>16.1f}" for s in summaries))
    print("mean score by kind (trainer's mean in brackets)")
    for kind in KINDS:
        cells = []
        for summary, rows in zip(summaries, parts, strict=True):
            part = [s for s in rows if s.kind == kind]
            cells.append(
                f"{summary.mean_by_kind[kind]:.0f} ({statistics.fmean(s.label for s in part):.0f})" if part else "-"
            )
        print(f"  {kind:26}" + "".join(f"{cell:>16}" for cell in cells))


def explain(row: dict[str, str], by_slug: dict[str, Any], *, hints: bool) -> int:
    judgement = judge_reply(by_slug[row["scenario"]], int(row["line"]) - 1, row["reply"], hints=hints)
    print(f"{row['id']} ({row['kind']}, label {row['score']}): score {judgement.score}, criteria {judgement.criteria}")
    print(f"keyword-list share {judgement.keyword_list_share:.2f}")
    for result in judgement.points:
        state = "made" if result.made else ("NEGATED" if result.contradicted else "missed")
        print(
            f"  point {result.point.label!r} (w {result.point.weight}): {state} {result.degree:.2f}  {result.quote or ''}"
        )
    for hit in judgement.pitfalls:
        print(f"  pitfall {hit.pitfall.label!r} ({hit.pitfall.severity}): {hit.quote}")
    for item in judgement.worked():
        print(f"  worked [{item.criterion}] {item.text}")
    for item in judgement.improve():
        print(f"  improve [{item.criterion}] {item.text}")
    return 0


def left_out(rows: list[dict[str, str]]) -> set[str]:
    """The scenarios whose every reply is held out: nothing in the judge was built or tuned
    while looking at them (README.md, Leave-one-scenario-out)."""
    scenarios = {row["scenario"] for row in rows}
    return {name for name in scenarios if all(row["split"] == "held" for row in rows if row["scenario"] == name)}


def print_per_scenario(items: list[Scored], names: list[str]) -> None:
    print(
        f"{'scenario':28}{'n':>5}{'Spearman':>10}{'plain':>8}{'words':>8}{'mediocre':>10}{'bad':>6}{'worst bad':>18}{'good>stuffed':>14}"
    )
    for name in names:
        part = [s for s in items if s.scenario == name]
        summary = summarise(name, part)
        kinds = summary.mean_by_kind
        bad = [s.score for s in part if s.kind in BAD_KINDS]
        worst = max(BAD_KINDS, key=lambda k: kinds.get(k, -1))
        wins, total = summary.good_over_stuffed
        print(
            f"{name:28}{len(part):>5}{summary.spearman:>10.3f}{kinds.get('good_plain', float('nan')):>8.0f}"
            f"{kinds.get('good_scenario_words', float('nan')):>8.0f}{kinds.get('mediocre', float('nan')):>10.0f}"
            f"{statistics.fmean(bad) if bad else float('nan'):>6.0f}{f'{worst} {kinds.get(worst, 0):.0f}':>18}"
            f"{f'{wins}/{total}' if total else '-':>14}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenarios",
        type=Path,
        action="append",
        metavar="DIR",
        help="a folder of scenario folders (repeatable; default: scenarios/ and eval/feedback/scenarios/)",
    )
    parser.add_argument(
        "--replies",
        type=Path,
        action="append",
        metavar="FILE",
        help="a labelled replies file in this folder's format (repeatable; default: replies.tsv and replies/*.tsv)",
    )
    parser.add_argument(
        "--show-worst", type=int, default=0, metavar="N", help="list the N replies furthest from their label"
    )
    parser.add_argument("--split", choices=("tune", "held"), help="with --show-worst: only this part")
    parser.add_argument("--scenario", help="only this scenario's replies")
    parser.add_argument("--explain", metavar="ID", help="print the judgement of one reply (points, pitfalls, coaching)")
    parser.add_argument(
        "--no-hints", action="store_true", help="judge by meaning alone: no `says` patterns or keyword matches"
    )
    parser.add_argument("--targets", action="store_true", help="exit 1 when the left-out scenarios miss a target")
    args = parser.parse_args(argv)

    roots = args.scenarios or [SCENARIOS, HERE / "scenarios"]
    files = args.replies or [REPLIES, *sorted((HERE / "replies").glob("*.tsv"))]
    rows = [
        row for path in files for row in read_replies(path) if args.scenario is None or row["scenario"] == args.scenario
    ]
    by_slug = load_all(roots)
    hints = not args.no_hints
    if args.explain:
        return explain(next(row for row in rows if row["id"] == args.explain), by_slug, hints=hints)
    items, timings = score_all(rows, by_slug, hints=hints)
    names = sorted({s.scenario for s in items}, key=lambda name: (name in left_out(rows), name))
    held_out = left_out(rows)
    print_per_scenario(items, names)
    print()
    parts = [
        ("tune", [s for s in items if s.split == "tune"]),
        ("held", [s for s in items if s.split == "held" and s.scenario not in held_out]),
    ]
    parts.append(("left out", [s for s in items if s.scenario in held_out]))
    parts = [(name, part) for name, part in parts if part]
    summaries = [summarise(name, part) for name, part in parts]
    print_summaries(summaries, [part for _, part in parts])
    print(
        f"judging time per reply: median {statistics.median(timings):.2f} ms, max {max(timings):.2f} ms (first call includes loading)"
    )
    misses = []
    pooled = next((s for s in summaries if s.split == "left out"), None)
    if pooled is not None:
        misses += pooled.misses()
        for name in sorted(held_out):
            value = summarise(name, [s for s in items if s.scenario == name]).spearman
            if not value >= MIN_SCENARIO_SPEARMAN:
                misses.append(f"{name} Spearman {value:.2f} < {MIN_SCENARIO_SPEARMAN}")
        print("left-out scenarios: " + ("every target met" if not misses else "miss " + "; ".join(misses)))

    if args.show_worst:
        pool = [s for s in items if args.split is None or s.split == args.split]
        for s in sorted(pool, key=lambda s: -abs(s.score - s.label))[: args.show_worst]:
            print(f"{s.id:9} {s.kind:20} label {s.label:3} score {s.score:3}  {s.reply[:150]}")
    return 1 if args.targets and misses else 0


if __name__ == "__main__":
    sys.exit(main())
