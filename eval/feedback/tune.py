"""Set the meaning check's bounds (shared/training/meaning.py) on the tuning rows only.

    python eval/feedback/tune.py [--rounds N]

Reads every replies file `make eval` reads, keeps the rows whose `split` is `tune` (the
shipped scenarios' tuning part and the development scenarios, README.md), and searches
the bounds one at a time over a grid (coordinate descent, `--rounds` passes), keeping the
value that raises the mean of the per-scenario Spearman correlations; the mean, not the
pooled figure, so that each scenario counts the same. Prints the bounds it chose: copy
them into meaning.py. Held rows and the left-out scenarios are never read here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from run import REPLIES, SCENARIOS, load_all, read_replies, spearman  # noqa: E402

from shared.training import judge, meaning  # noqa: E402

GRID = {
    "SIMILAR_FROM": [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45],
    "SIMILAR_WIDTH": [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
    "DOCUMENT_ANCHORS_PER_KEYWORD": [0, 1, 2, 3, 5, 8, 12, 20],
    "PITFALL_AT": [0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.72, 1.1],
    "PITFALL_MARGIN": [0.0, 0.05, 0.1, 0.2],
    "RULE_AT": [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 1.1],
    "MINOR_PENALTY": [15, 20, 25],
    "RELEVANT_AT": [0.0, 0.1, 0.15, 0.2, 0.25, 0.3],
    "EXAMPLE_ANCHOR_AT": [0.1, 0.2, 0.3, 0.4, 1.1],
    "KEYWORD_CREDIT": [0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
}


JUDGE_BOUNDS = ("DOCUMENT_ANCHORS_PER_KEYWORD", "MINOR_PENALTY", "KEYWORD_CREDIT")


def apply(bounds: dict[str, float]) -> None:
    for name, value in bounds.items():
        if name == "SIMILAR_WIDTH":
            continue
        setattr(judge if name in JUDGE_BOUNDS else meaning, name, value)
    meaning.SIMILAR_AT = bounds["SIMILAR_FROM"] + bounds["SIMILAR_WIDTH"]
    meaning._example_anchors.cache_clear()
    judge._anchors_for.cache_clear()
    judge._keyword_points_cached.cache_clear()
    judge._keyword_anchor_texts.cache_clear()
    judge.forget_recent_judgements()


def objective(rows: list[dict[str, str]], by_slug: dict) -> float:
    by_scenario: dict[str, tuple[list[float], list[float]]] = {}
    for row in rows:
        score = judge.judge_reply(by_slug[row["scenario"]], int(row["line"]) - 1, row["reply"]).score
        scores, labels = by_scenario.setdefault(row["scenario"], ([], []))
        scores.append(score)
        labels.append(float(row["score"]))
    return statistics.fmean(spearman(scores, labels) for scores, labels in by_scenario.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    files = [REPLIES, *sorted((HERE / "replies").glob("*.tsv"))]
    rows = [row for path in files for row in read_replies(path) if row["split"] == "tune"]
    by_slug = load_all([SCENARIOS, HERE / "scenarios"])
    print(f"tuning on {len(rows)} rows of {len({row['scenario'] for row in rows})} scenarios")
    bounds = {
        "SIMILAR_FROM": meaning.SIMILAR_FROM,
        "SIMILAR_WIDTH": round(meaning.SIMILAR_AT - meaning.SIMILAR_FROM, 3),
        **{
            name: getattr(judge if name in JUDGE_BOUNDS else meaning, name)
            for name in GRID
            if name not in ("SIMILAR_FROM", "SIMILAR_WIDTH")
        },
    }
    apply(bounds)
    best = objective(rows, by_slug)
    print(f"start: {best:.3f} {bounds}")
    for round_number in range(args.rounds):
        for name, values in GRID.items():
            for value in values:
                trial = {**bounds, name: value}
                apply(trial)
                result = objective(rows, by_slug)
                if result > best + 1e-4:
                    best, bounds = result, trial
            apply(bounds)
        print(f"round {round_number + 1}: {best:.3f} {bounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
