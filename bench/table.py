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

TARGETS = {
    "a": "p50<=3 p99<=10",
    "b": "p99<=10, 0 errors",
    "c": ">=1000/s, exactly once",
    "d": "<=5 ms",
    "idle": "<=1% core",
    "e": "<=40 KiB/socket",
}


def verdict(row: dict) -> str:
    lat = row.get("latency_ms") or {}
    errors = sum(row.get("errors", {}).values())
    case = row["case"]
    if case == "a":
        ok = lat and lat["p50"] <= 3 and lat["p99"] <= 10
    elif case == "b":
        ok = lat and lat["p99"] <= 10 and errors == 0
    elif case == "c":
        d = row["delivery"]
        exact = d["sent"] == d["acked"] == d["socket_once"] == d["db_once"]
        ok = row["replies_per_second"] >= 1000 and exact and errors == 0
    elif case == "d":
        ok = lat and lat["p50"] <= 5
    elif case == "idle":
        ok = sum(row["idle_cpu_percent"].values()) <= 1
    elif case == "e":
        ok = row["kib_per_socket"] <= 40
    else:
        return ""
    return f"{TARGETS[case]}: {'ok' if ok else 'MISS'}"


def notes(row: dict) -> str:
    parts = []
    if row.get("errors"):
        parts.append("errors " + ", ".join(f"{k} {v}" for k, v in row["errors"].items()))
    if row.get("cpu_ms_per_reply"):
        cpu = row["cpu_ms_per_reply"]
        parts.append(f"CPU web {cpu['web']:.2f} + worker {cpu['worker']:.2f} ms")
    if "client_cpu_percent" in row and row["case"] in ("b", "c"):
        parts.append(f"client {row['client_cpu_percent']:.0f}% core")
    if row.get("other_cpu_percent", 0) >= 10:
        parts.append(f"OTHER PROCESSES {row['other_cpu_percent']:.0f}% core")
    if row.get("sessions", 0) > row.get("trainees", 1) and row["case"] in ("a", "b", "c", "s"):
        parts.append(f"{row['sessions']} sessions (a new one when a script ended)")
    if row.get("trend") and all(row["trend"]):
        first, last = row["trend"]
        parts.append(f"p50 first {first['n']} {first['p50']:.1f} ms, last {last['n']} {last['p50']:.1f} ms")
    if "trials_ms" in row:
        parts.append("each: " + ", ".join(f"{ms:.2f}" for ms in row["trials_ms"]) + " ms (verdict on the median)")
    if "client_send_lag_ms" in row:
        parts.append(f"sent {row['sent']}, client late <= {row['client_send_lag_ms']:.1f} ms")
    if "delivery" in row:
        d = row["delivery"]
        parts.append(
            f"sent {d['sent']} acked {d['acked']}; socket once {d['socket_once']} missing {d['socket_missing']}"
            f" dup {d['socket_duplicated']}; DB once {d['db_once']} missing {d['db_missing']} dup {d['db_duplicated']}"
        )
    if "idle_cpu_percent" in row:
        cpu = row["idle_cpu_percent"]
        prefix = "idle CPU with these sockets: " if row["case"] == "e" else ""
        parts.append(f"{prefix}web {cpu['web']:.2f}% + worker {cpu['worker']:.2f}% of a core")
    if "kib_per_socket" in row:
        parts.append(f"web RSS {row['baseline_rss_mib']['web']:.1f} -> {row['rss_mib']['web']:.1f} MiB")
    overhead = row.get("overhead_ms")
    if isinstance(overhead, dict):
        parts.append(f"over the paced LLM: p50 {overhead['p50']:.1f} p99 {overhead['p99']:.1f} ms")
    elif overhead is not None:
        parts.append(f"over the 400 ms first chunk: p50 {overhead:.1f} ms")
    return "; ".join(parts)


def render(rows: list[dict], header: str) -> str:
    floor = next((r["latency_ms"]["p50"] for r in rows if r["case"] == "floor" and r.get("latency_ms")), None)

    def ms(value: float | None) -> str:
        if value is None:
            return ""
        return f"{value:.2f} ({value / floor:.1f}x)" if floor else f"{value:.2f}"

    table = [("case", "what", "n", "replies/s", "p50 ms (x floor)", "p90", "p99", "max", "err",
              "CPU", "RSS web/wkr MiB", "target", "notes")]
    for r in rows:
        lat = r.get("latency_ms") or {}
        cpu = ""
        if r.get("cpu_ms_per_reply"):
            cpu = f"{sum(r['cpu_ms_per_reply'].values()):.2f} ms/reply"
        elif "kib_per_socket" in r:
            cpu = f"{r['kib_per_socket']:.1f} KiB/socket"
        elif r["case"] == "idle":
            cpu = f"{sum(r['idle_cpu_percent'].values()):.2f}% core"
        rss = r.get("rss_mib")
        table.append((
            r["case"], r["what"], str(r.get("n", "")),
            f"{r['replies_per_second']:.0f}" if "replies_per_second" in r else "",
            ms(lat.get("p50")), ms(lat.get("p90")), ms(lat.get("p99")), ms(lat.get("max")),
            str(sum(r.get("errors", {}).values())), cpu,
            f"{rss['web']:.0f}/{rss['worker']:.0f}" if rss else "", verdict(r), notes(r),
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = [header]
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
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
