"""The printed table: each row's target and verdict, its notes, the rendered table, and
the line describing the machine it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import psutil
import websockets

from bench.database import exactly_once
from bench.stacks import REFERENCE

# Realistic cases: (queue wait, first-delta overhead, final overhead) p99 bounds in ms.
BOUNDS_MS = {"r1": (20, 50, 50), "r2": (150, 150, 150), "r3": (20, 50, 50)}
# r4: our first-delta overhead p99 at most the in-process reference's in the same run plus this.
R4_OVER_REFERENCE_MS = 60
TARGETS = {
    "r1": "all delivered; p99 queue<=20 1st/final<=50 ms",
    "r2": "all delivered; p99 queue, 1st, final<=150 ms",
    "r3": "r1's bounds",
    "r3 stalled": "all delivered",
    "r4": "all delivered",
    "r4 ours": f"all delivered; 1st p99<=the reference's+{R4_OVER_REFERENCE_MS} ms",
    "m": "all in flight at once, all delivered",
    "a": "p50<=5 ms",
    "c": ">=600/s, exactly once",
    "c ours": ">=600/s and >=1.0x the reference, exactly once",
    "c reference": "exactly once (the yardstick)",
    "idle": "<=1% core",
    "e": "<=40 KiB/socket",
}


def _target_key(row: dict) -> str:
    if row["case"] == "c" and row.get("model") == REFERENCE:
        return "c reference"
    if row["case"] == "c" and "reference_ratio" in row:
        return "c ours"
    if row["case"] == "r4" and "reference_first_delta_p99" in row:
        return "r4 ours"
    return "r3 stalled" if row.get("stalled") else row["case"]


def _delivered(row: dict) -> list[str]:
    """What keeps these replies from counting as all delivered, exactly once."""
    missed = []
    if row.get("missing"):
        missed.append(f"{row['missing']} missing")
    if row.get("errors"):
        missed.append("errors")
    if "delivery" in row and not exactly_once(row["delivery"]):
        missed.append("not exactly once")
    return missed


def verdict(row: dict) -> str:
    key = _target_key(row)
    if key not in TARGETS:
        return ""
    lat = row.get("latency_ms") or {}
    missed: list[str] = []
    if key in BOUNDS_MS:
        missed += _delivered(row)
        for name, bound in zip(("queue_ms", "first_delta_ms", "final_ms"), BOUNDS_MS[key], strict=True):
            stats = row.get(name)
            if stats is None:
                missed.append(f"no {name[:-3]} figures")
            elif stats["p99"] > bound:
                missed.append(f"{name[:-3]} p99")
    elif key in ("r3 stalled", "r4", "r4 ours", "m"):
        missed += _delivered(row)
        if not row.get("n"):
            missed.append("no replies")
        if key == "r4 ours" and not _r4_within_the_reference(row):
            missed.append("1st delta vs reference")
        if key == "m" and row.get("in_flight_count") != row["in_flight"]["of"]:
            missed.append(f"{row.get('in_flight_count')} in flight")
    elif key == "c reference":
        missed += _delivered(row)
    elif key == "a":
        missed += [] if lat and lat["p50"] <= 5 else ["p50"]
    elif key in ("c", "c ours"):
        missed += _delivered(row)
        missed += [] if row["replies_per_second"] >= 600 else ["rate"]
        missed += [] if row.get("reference_ratio", 1.0) >= 1.0 else ["vs reference"]
    elif key == "idle":
        missed += [] if sum(row["idle_cpu_percent"].values()) <= 1 else ["CPU"]
    elif key == "e":
        missed += [] if row["kib_per_socket"] <= 40 else ["KiB"]
    return f"{TARGETS[key]}: " + ("ok" if not missed else "MISS (" + ", ".join(missed) + ")")


def notes(row: dict) -> str:
    parts = []
    if row.get("stamps_note"):
        parts.append(row["stamps_note"])
    if row.get("errors"):
        parts.append("errors " + ", ".join(f"{k} {v}" for k, v in row["errors"].items()))
    if "arrivals_per_second" in row:
        parts.append(
            f"sent {row['sent']} ({row['arrivals_per_second']:.1f}/s), client late <= {row['send_lag_ms']:.0f} ms"
        )
    if "reference_ratio" in row:
        parts.append(f"{row['reference_ratio']:.2f}x the reference's replies/s")
    if "delivery" in row:
        d = row["delivery"]
        parts.append(
            f"all: sent {d['sent']} acked {d['acked']}; socket once {d['socket_once']} missing {d['socket_missing']}"
            f" dup {d['socket_duplicated']}; DB once {d['db_once']} missing {d['db_missing']} dup {d['db_duplicated']}"
        )
    if "in_flight" in row:
        f = row["in_flight"]
        seen = [
            f"{f['model_requested']} asked the model" if f["model_requested"] is not None else "",
            f"{f['typing_frames']} typing frames",
            f"fake peak {f['fake_peak_streams']} streams" if f["fake_peak_streams"] else "",
        ]
        parts.append(f"of {f['of']} before the first reply finished: " + ", ".join(s for s in seen if s))
        idle, peak = row["idle_rss_mib"]["worker"], row["peak_rss_mib"]["worker"]
        per = row["kib_per_reply_in_flight"]
        parts.append(
            f"worker RSS {idle:.1f} -> {peak:.1f} MiB"
            + (f" = {per:.1f} KiB per reply in flight" if per is not None else "")
        )
    if row.get("fake") and "in_flight" not in row:
        parts.append(f"fake LLM: {row['fake']['requests']} requests, peak {row['fake']['peak_open']} streams")
    if row.get("client_lag_ms"):
        parts.append(f"client loop late p99 {row['client_lag_ms']['p99']:.0f} ms")
    if "client_cpu_percent" in row and row["case"] != "a":
        parts.append(f"client {row['client_cpu_percent']:.0f}% core")
    if row.get("other_cpu_percent", 0) >= 10:
        parts.append(f"OTHER PROCESSES {row['other_cpu_percent']:.0f}% core")
    if row.get("sessions", 0) > row.get("trainees", 1):
        parts.append(f"{row['sessions']} sessions (a new one when a script ended)")
    if row.get("trend") and all(row["trend"]):
        first, last = row["trend"]
        parts.append(f"p50 first {first['n']} {first['p50']:.1f} ms, last {last['n']} {last['p50']:.1f} ms")
    if "idle_cpu_percent" in row:
        cpu = row["idle_cpu_percent"]
        prefix = "idle CPU with these sockets: " if row["case"] == "e" else ""
        parts.append(f"{prefix}web {cpu['web']:.2f}% + worker {cpu['worker']:.2f}% of a core")
    if "kib_per_socket" in row:
        parts.append(f"web RSS {row['baseline_rss_mib']['web']:.1f} -> {row['rss_mib']['web']:.1f} MiB")
    return "; ".join(parts)


def set_r4_against_the_reference(rows: list[dict]) -> None:
    """Give our r4 row the in-process reference's first-delta p99 from the same run, which
    its target is set against, when both rows have figures."""
    ours = next((r for r in rows if r["case"] == "r4" and REFERENCE not in r.get("model", "")), None)
    theirs = next((r for r in rows if r["case"] == "r4" and REFERENCE in r.get("model", "")), None)
    if ours is None or theirs is None or not theirs.get("first_delta_ms"):
        return
    ours["reference_first_delta_p99"] = theirs["first_delta_ms"]["p99"]


def _r4_within_the_reference(row: dict) -> bool:
    stats = row.get("first_delta_ms")
    return stats is not None and stats["p99"] <= row["reference_first_delta_p99"] + R4_OVER_REFERENCE_MS


def reference_lines(rows: list[dict]) -> list[str]:
    """What was set against the in-process reference in the same run: r4's first delta and
    case c's replies/s, for those that ran with it."""
    lines = []
    r4 = next((r for r in rows if "reference_first_delta_p99" in r), None)
    if r4 is not None:
        theirs = r4["reference_first_delta_p99"]
        ours = r4["first_delta_ms"]["p99"] if r4.get("first_delta_ms") else float("nan")
        lines.append(
            f"r4, one box: our first delta p99 {ours:.1f} ms over the model, the in-process reference's"
            f" {theirs:.1f} ms (target <= {theirs + R4_OVER_REFERENCE_MS:.1f} ms):"
            f" {'ok' if _r4_within_the_reference(r4) else 'MISS'}"
        )
    ours = next((r for r in rows if "reference_ratio" in r), None)
    theirs = next((r for r in rows if r["case"] == "c" and r.get("model") == REFERENCE), None)
    if ours is not None and theirs is not None:
        lines.append(
            f"case c, unpaced saturation: ours {ours['replies_per_second']:.1f} replies/s over the in-process"
            f" reference's {theirs['replies_per_second']:.1f} = {ours['reference_ratio']:.2f}x (target >= 1.0x)"
        )
    return lines


def _pair(stats: dict | None) -> str:
    return f"{stats['p50']:.1f} / {stats['p99']:.1f}" if stats else ""


def _per_process(values: dict | None, fmt: str) -> str:
    if not values:
        return ""
    return "/".join(format(values[name], fmt) if name in values else "-" for name in ("web", "worker", "llm"))


def render(rows: list[dict], header: str) -> str:
    table = [
        (
            "case",
            "model",
            "what",
            "n",
            "replies/s (arrivals)",
            "e2e ms p50/p99",
            "queue",
            "1st delta +",
            "final +",
            "miss/err",
            "CPU ms/reply web/wkr/llm",
            "RSS MiB web/wkr/llm",
            "target",
            "notes",
        )
    ]
    for r in rows:
        cpu = _per_process(r.get("cpu_ms_per_reply"), ".2f")
        if "kib_per_socket" in r:
            cpu = f"{r['kib_per_socket']:.1f} KiB/socket"
        elif r["case"] == "idle":
            cpu = f"{sum(r['idle_cpu_percent'].values()):.2f}% core"
        rate = f"{r['replies_per_second']:.1f}" if "replies_per_second" in r else ""
        if "arrivals_per_second" in r:
            rate += f" ({r['arrivals_per_second']:.1f})"
        table.append(
            (
                r["case"],
                r.get("model", ""),
                r["what"],
                str(r.get("n", "")),
                rate,
                _pair(r.get("latency_ms")),
                _pair(r.get("queue_ms")),
                _pair(r.get("first_delta_ms")),
                _pair(r.get("final_ms")),
                f"{r.get('missing', 0)}/{sum(r.get('errors', {}).values())}",
                cpu,
                _per_process(r.get("rss_mib"), ".0f"),
                verdict(r),
                notes(r),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = [header]
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 5))
    return "\n".join(lines)


def machine_line() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC} | {platform.system()} {platform.release()} "
        f"{platform.machine()}, nproc {os.cpu_count()}{model}, RAM {psutil.virtual_memory().total / 2**30:.1f} GiB"
        f" | Python {platform.python_version()}, websockets {websockets.__version__} client on the same box"
    )
