"""The benchmark itself keeps working: `make bench ARGS=--quick` on every case and both
models (r3 on the fake server only; r4 and c also on the in-process reference), from a
subprocess as an operator would run it. Its numbers are not judged here (the machines are
shared and noisy); that it runs, speaks the protocol, counts every reply once, finds the
worker's stamps for its overheads and writes its table is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import REPO_ROOT

pytestmark = pytest.mark.e2e

EXPECTED_ROWS = [
    ("r1", "mock"),
    ("r1", "openai"),
    ("r2", "mock"),
    ("r2", "openai"),
    ("r3", "openai"),
    ("r3", "openai"),
    ("r4", "mock"),
    ("r4", "mock, reference"),
    ("m", "mock"),
    ("m", "openai"),
    ("floor", "mock"),
    ("a", "mock"),
    ("c", "mock"),
    ("idle", "mock"),
    ("c", "reference"),
    ("e", "mock"),
    ("e", "mock"),
]


def test_the_quick_benchmark_runs_every_case_and_prints_its_table(tmp_path: Path) -> None:
    numbers = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_chat",
            "--quick",
            "--idle-seconds",
            "1",
            "--layouts",
            "sqlite",
            "--json",
            str(numbers),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    rows = json.loads(numbers.read_text())["rows"]
    assert [(row["case"], row["model"]) for row in rows] == EXPECTED_ROWS
    assert all(not row["errors"] for row in rows), [row["errors"] for row in rows]
    # Every message sent got exactly one reply, on its socket and in the database.
    assert all(not row.get("missing") for row in rows), [row.get("missing") for row in rows]
    for row in rows:
        if "delivery" in row:
            delivery = row["delivery"]
            assert delivery["sent"] == delivery["acked"] == delivery["socket_once"] == delivery["db_once"] > 0, row
            assert delivery["socket_duplicated"] == delivery["db_duplicated"] == 0, row
    # The realistic rows have replies, each with the worker's stamps (or the reference's) to
    # measure against; r3's stalled trainees sent some too and got them; m had every message
    # in flight at once.
    for row in rows[:10]:
        assert row["n"] > 0, row
        assert row["stamps_note"] is None, row["stamps_note"]
        assert row["queue_ms"]["n"] == row["final_ms"]["n"] == row["n"] and row["first_delta_ms"]["n"] > 0, row
    # r3's stalling model is the fake server's alone: no mock row.
    assert [row.get("stalled", False) for row in rows[4:6]] == [False, True]
    for row in rows[8:10]:
        assert row["n"] == row["in_flight"]["of"] == row["in_flight_count"], row
    # r4 was set against the in-process reference's first delta in the same run.
    assert rows[6]["reference_first_delta_p99"] == rows[7]["first_delta_ms"]["p99"], rows[6]
    assert "r4, one box: our first delta p99" in result.stdout
    # Case c was set against the in-process reference in the same run.
    ours, reference = rows[12], rows[14]
    assert ours["reference_ratio"] == ours["replies_per_second"] / reference["replies_per_second"] > 0, ours
    assert "over the in-process reference's" in result.stdout
    for case in ("r1", "r2", "r3", "r4", "m", "floor", "a", "c", "idle", "e"):
        assert any(line.startswith(case + " ") for line in result.stdout.splitlines()), case


def test_the_quick_benchmark_runs_a_realistic_case_on_the_scaled_layout(tmp_path: Path) -> None:
    """Two web processes and two workers on PostgreSQL + Redis, the sockets spread over both
    web processes: every reply once, the stamps read from PostgreSQL, each kind of process
    measured."""
    numbers = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_chat",
            "--quick",
            "--cases",
            "r1",
            "--models",
            "mock",
            "--layouts",
            "scaled",
            "--json",
            str(numbers),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    [row] = json.loads(numbers.read_text())["rows"]
    assert (row["case"], row["model"]) == ("r1", "mock, scaled")
    delivery = row["delivery"]
    # Counted, not judged: on PostgreSQL two writers of one session can still collide on its
    # event numbers under load (docs/performance.md, the scaled layout), which the table's
    # verdict reports; exactly-once under load is asserted for SQLite above.
    assert delivery["sent"] >= delivery["acked"] >= delivery["db_once"] > 0, row
    assert row["stamps_note"] is None and row["queue_ms"]["n"] > 0, row
    assert set(row["cpu_ms_per_reply"]) == {"web", "worker"} and set(row["rss_mib"]) == {"web", "worker"}
    assert "mock, scaled" in result.stdout
