"""The benchmark's verdicts set against the in-process reference (bench/table.py)."""

from __future__ import annotations

from bench.table import reference_lines, set_r4_against_the_reference, verdict


def _r4_rows(ours_p99: float, theirs_p99: float) -> list[dict]:
    def row(model: str, p99: float) -> dict:
        return {"case": "r4", "model": model, "n": 100, "first_delta_ms": {"p50": 1.0, "p99": p99, "n": 100}}

    return [row("mock", ours_p99), row("mock, reference", theirs_p99)]


def test_r4_meets_its_target_within_60_ms_of_the_references_first_delta_in_the_same_run() -> None:
    rows = _r4_rows(ours_p99=61.0, theirs_p99=1.5)
    set_r4_against_the_reference(rows)
    assert rows[0]["reference_first_delta_p99"] == 1.5
    assert verdict(rows[0]).endswith(": ok")
    assert reference_lines(rows) == [
        "r4, one box: our first delta p99 61.0 ms over the model, the in-process reference's 1.5 ms"
        " (target <= 61.5 ms): ok"
    ]


def test_r4_misses_its_target_beyond_it() -> None:
    rows = _r4_rows(ours_p99=62.0, theirs_p99=1.5)
    set_r4_against_the_reference(rows)
    assert verdict(rows[0]).endswith("MISS (1st delta vs reference)")
    assert reference_lines(rows)[0].endswith(": MISS")


def test_r4_without_the_reference_keeps_its_delivery_target_alone() -> None:
    rows = _r4_rows(ours_p99=500.0, theirs_p99=1.5)[:1]
    set_r4_against_the_reference(rows)
    assert "reference_first_delta_p99" not in rows[0]
    assert verdict(rows[0]) == "all delivered: ok"
    assert reference_lines(rows) == []
