"""Time the judge (shared/training/judge.py) on every labelled reply of eval/feedback (the
shipped scenarios' and the evaluation scenarios'), and measure what it holds in memory.

Run: python bench/bench_feedback.py [rounds]

Prints the median, p90 and p99 time to judge one reply (every reply judged `rounds` times
after one warm-up pass, never taken from the judge's memory of recent replies), the first call's time (which compiles the patterns), and the
memory the embedder's vector table, the scenarios' anchors, compiled patterns and caches
take (tracemalloc, and the process's resident size before and after).
"""

from __future__ import annotations

import csv
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.scenarios.loader import load_scenarios  # noqa: E402
from shared.training.judge import forget_recent_judgements, judge_reply  # noqa: E402


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    feedback = ROOT / "eval" / "feedback"
    rows = []
    for path in [feedback / "replies.tsv", *sorted((feedback / "replies").glob("*.tsv"))]:
        with path.open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    scenarios = {
        scenario.slug: scenario
        for root in (ROOT / "scenarios", feedback / "scenarios")
        for scenario in load_scenarios(root)[0]
    }
    work = [(scenarios[row["scenario"]], int(row["line"]) - 1, row["reply"]) for row in rows]

    rss_before = max_rss_kib()
    tracemalloc.start()
    started = time.perf_counter()
    judge_reply(*work[0])
    first_ms = (time.perf_counter() - started) * 1000
    for item in work:  # warm-up: compiles every pattern once
        judge_reply(*item)
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    timings = []
    for _ in range(rounds):
        for item in work:
            forget_recent_judgements()  # judged anew, not taken from the last round
            started = time.perf_counter()
            judge_reply(*item)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(f"judged {len(work)} replies x {rounds} rounds")
    print(
        f"per reply: median {statistics.median(timings):.3f} ms, p90 {timings[int(len(timings) * 0.9)]:.3f} ms, "
        f"p99 {timings[int(len(timings) * 0.99)]:.3f} ms, max {timings[-1]:.3f} ms"
    )
    print(f"first call (loads the vector table, compiles its patterns): {first_ms:.1f} ms")
    print(
        f"memory held after warm-up (compiled patterns, caches): {held / 1024:.0f} KiB; "
        f"max RSS {rss_before / 1024:.0f} -> {max_rss_kib() / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
