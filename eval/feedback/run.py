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
MIN_GOOD_OVER_STUFFED = 0.95
MAX_BAD_MEAN = 25
MIN_GOOD_MEAN = 75


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


def score_all(rows: list[dict[str, str]], scenarios_root: Path = SCENARIOS) -> tuple[list[Scored], list[float]]:
    """Each row with the judge's score, and the time each judgement took (ms)."""
    scenarios, errors = load_scenarios(scenarios_root)
    if errors:
        raise SystemExit("\n".join(str(error) for error in errors))
    by_slug = {scenario.slug: scenario for scenario in scenarios}
    scored, timings = [], []
    for row in rows:
        started = time.perf_counter()
        judgement = judge_reply(by_slug[row["scenario"]], int(row["line"]) - 1, row["reply"])
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


def print_summaries(summaries: list[Summary], items: list[Scored]) -> None:
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
        for summary in summaries:
            part = [s for s in items if s.kind == kind and (summary.split == "all" or s.split == summary.split)]
            cells.append(
                f"{summary.mean_by_kind[kind]:.0f} ({statistics.fmean(s.label for s in part):.0f})" if part else "-"
            )
        print(f"  {kind:26}" + "".join(f"{cell:>16}" for cell in cells))


def explain(row: dict[str, str]) -> int:
    scenarios, _ = load_scenarios(SCENARIOS)
    scenario = next(s for s in scenarios if s.slug == row["scenario"])
    judgement = judge_reply(scenario, int(row["line"]) - 1, row["reply"])
    print(f"{row['id']} ({row['kind']}, label {row['score']}): score {judgement.score}, criteria {judgement.criteria}")
    print(f"keyword-list share {judgement.keyword_list_share:.2f}")
    for result in judgement.points:
        state = "made" if result.made else ("NEGATED" if result.contradicted else "missed")
        print(f"  point {result.point.label!r} (w {result.point.weight}): {state}  {result.quote or ''}")
    for hit in judgement.pitfalls:
        print(f"  pitfall {hit.pitfall.label!r} ({hit.pitfall.severity}): {hit.quote}")
    for item in judgement.worked():
        print(f"  worked [{item.criterion}] {item.text}")
    for item in judgement.improve():
        print(f"  improve [{item.criterion}] {item.text}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--show-worst", type=int, default=0, metavar="N", help="list the N replies furthest from their label"
    )
    parser.add_argument("--split", choices=("tune", "held"), help="with --show-worst: only this part")
    parser.add_argument("--scenario", help="only this scenario's replies")
    parser.add_argument("--explain", metavar="ID", help="print the judgement of one reply (points, pitfalls, coaching)")
    parser.add_argument("--targets", action="store_true", help="exit 1 when the held-back part misses a target")
    args = parser.parse_args(argv)

    rows = [row for row in read_replies() if args.scenario is None or row["scenario"] == args.scenario]
    if args.explain:
        return explain(next(row for row in rows if row["id"] == args.explain))
    items, timings = score_all(rows)
    summaries = [summarise(split, [s for s in items if s.split == split]) for split in ("tune", "held")]
    print_summaries(summaries, items)
    print(
        f"judging time per reply: median {statistics.median(timings):.2f} ms, max {max(timings):.2f} ms (first call includes compiling)"
    )
    held = summaries[1]
    misses = held.misses()
    print("held-back part: " + ("every target met" if not misses else "misses " + "; ".join(misses)))

    if args.show_worst:
        pool = [s for s in items if args.split is None or s.split == args.split]
        for s in sorted(pool, key=lambda s: -abs(s.score - s.label))[: args.show_worst]:
            print(f"{s.id:9} {s.kind:20} label {s.label:3} score {s.score:3}  {s.reply[:150]}")
    return 1 if args.targets and misses else 0


if __name__ == "__main__":
    sys.exit(main())
