"""The cases (floor, a to e, s): each drives a stack with trainees and returns its rows
for the table; and `running_stack`, the stack a case runs on."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.meter import StackMeter, latency_stats
from bench.profiling import start_profilers, stop_profilers
from bench.settings import BENCH_ENV, DRAIN_SECONDS, STREAM_ENV, Scale
from bench.trainees import (
    Trainee,
    close_all,
    closed_loop,
    connect_all,
    make_trainees,
    open_loop,
    open_trainees,
)
from shared.llm.mock import split_into_chunks
from tests.support.stack import Stack


@contextlib.contextmanager
def running_stack(root: Path, name: str, env: dict[str, str]) -> Iterator[Stack]:
    stack = Stack(data_dir=root / name, extra_env={**BENCH_ENV, **env})
    try:
        stack.start_all(timeout=60)
        yield stack
    except Exception:
        print(f"--- logs of the {name} stack (tail) ---\n{stack.all_logs()[-4000:]}", file=sys.stderr)
        raise
    finally:
        stack.stop_all()


def work_row(case: str, what: str, meter: StackMeter, before: dict, trainees: list[Trainee], **extra: Any) -> dict:
    """A row for a loaded case: throughput, latency, errors, CPU per reply, RSS."""
    cpu = meter.cpu_since(before)
    replies = sum(len(t.latencies) for t in trainees)
    errors = Counter()
    for t in trainees:
        errors.update(t.errors)
    per_reply = {name: cpu[name] / replies * 1000 for name in ("web", "worker")} if replies else {}
    return {
        "case": case,
        "what": what,
        "n": replies,
        "replies_per_second": replies / cpu["t"] if cpu["t"] else 0.0,
        "latency_ms": latency_stats([s for t in trainees for s in t.latencies]),
        "errors": dict(errors),
        "trainees": len(trainees),
        "sessions": sum(len(t.session_ids) for t in trainees),
        "cpu_ms_per_reply": per_reply,
        "client_cpu_percent": cpu["client"] / cpu["t"] * 100,
        # The box is shared: CPU that neither the stack nor this client used.
        "other_cpu_percent": (cpu["box"] - cpu["web"] - cpu["worker"] - cpu["client"]) / cpu["t"] * 100,
        "rss_mib": meter.rss_mib(),
        **extra,
    }


# --- the cases -----------------------------------------------------------------------------


async def case_floor(stack: Stack, meter: StackMeter, scale: Scale) -> dict:
    (trainee,) = await open_trainees(stack, 1, "floor")
    for _ in range(20):
        await trainee.ping()
    before = meter.snapshot()
    latencies = [await trainee.ping() for _ in range(scale.floor_pings)]
    cpu = meter.cpu_since(before)
    await trainee.close()
    return {
        "case": "floor", "what": "ping -> pong (no queue)", "n": len(latencies),
        "replies_per_second": len(latencies) / cpu["t"], "latency_ms": latency_stats(latencies),
        "errors": dict(trainee.errors), "rss_mib": meter.rss_mib(),
        "cpu_ms_per_reply": {"web": cpu["web"] / len(latencies) * 1000, "worker": cpu["worker"] / len(latencies) * 1000},
        "other_cpu_percent": (cpu["box"] - cpu["web"] - cpu["worker"] - cpu["client"]) / cpu["t"] * 100,
    }


async def case_a(stack: Stack, meter: StackMeter, scale: Scale, profile_dir: Path | None) -> dict:
    (trainee,) = await open_trainees(stack, 1, "a")
    await closed_loop(stack, trainee, count=10)  # warm-up, not measured
    trainee.latencies.clear()
    profilers = start_profilers(meter, profile_dir, "a") if profile_dir else []
    before = meter.snapshot()
    await closed_loop(stack, trainee, count=10 + scale.a_messages)
    stop_profilers(profilers)
    # One session grows by two messages a reply: compare the start and the end of the run.
    tenth = max(len(trainee.latencies) // 10, 1)
    trend = [latency_stats(trainee.latencies[:tenth]), latency_stats(trainee.latencies[-tenth:])]
    row = work_row("a", "1 trainee, closed loop", meter, before, [trainee], trend=trend)
    await trainee.close()
    return row


async def case_b(stack: Stack, meter: StackMeter, scale: Scale) -> dict:
    trainees = await open_trainees(stack, scale.b_trainees, "b")
    await asyncio.gather(*(closed_loop(stack, t, count=1) for t in trainees))  # warm-up
    for t in trainees:
        t.latencies.clear()
    interval = 1 / scale.b_per_second
    count = int(scale.b_seconds * scale.b_per_second)
    start = time.perf_counter() + 0.5
    before = meter.snapshot()
    await asyncio.gather(*(
        open_loop(stack, t, start=start + interval * i / len(trainees), interval=interval, count=count)
        for i, t in enumerate(trainees)
    ))
    outstanding = [f for t in trainees for f in t.outstanding]
    if outstanding:
        await asyncio.wait(outstanding, timeout=DRAIN_SECONDS)
    for t in trainees:
        if t.outstanding:
            t.errors["no reply"] += len(t.outstanding)
    row = work_row(
        "b", f"{scale.b_trainees} trainees x {scale.b_per_second:g}/s, open loop {scale.b_seconds:g} s",
        meter, before, trainees, sent=sum(t.sent - 1 for t in trainees),
        client_send_lag_ms=max(t.send_lag for t in trainees) * 1000,
    )
    await close_all(trainees)
    return row


async def case_c(stack: Stack, meter: StackMeter, scale: Scale, profile_dir: Path | None) -> dict:
    trainees = await open_trainees(stack, scale.c_trainees, "c")
    profilers = start_profilers(meter, profile_dir, "c") if profile_dir else []
    before = meter.snapshot()
    until = time.perf_counter() + scale.c_seconds
    await asyncio.gather(*(closed_loop(stack, t, until=until) for t in trainees))
    stop_profilers(profilers)
    row = work_row("c", f"{scale.c_trainees} trainees, closed loop {scale.c_seconds:g} s", meter, before, trainees)
    await asyncio.sleep(1.0)  # let any duplicate frame arrive before counting
    row["delivery"] = delivery_check(stack, trainees)
    await close_all(trainees)
    return row


def delivery_check(stack: Stack, trainees: list[Trainee]) -> dict[str, int]:
    """Every acked message has exactly one reply on its socket and one row in the DB."""
    acked = {m for t in trainees for m in t.acked}
    on_socket = Counter()
    for t in trainees:
        on_socket.update({m: c for m, c in t.replies.items() if m in acked})
    uri = f"file:{stack.data_dir / 'chattrain.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        rows = conn.execute("SELECT reply_to, COUNT(*) FROM messages WHERE reply_to IS NOT NULL GROUP BY reply_to")
        in_db = Counter({reply_to: n for reply_to, n in rows if reply_to in acked})
    return {
        "sent": sum(t.sent for t in trainees),
        "acked": len(acked),
        "socket_once": sum(1 for m in acked if on_socket[m] == 1),
        "socket_missing": sum(1 for m in acked if on_socket[m] == 0),
        "socket_duplicated": sum(1 for m in acked if on_socket[m] > 1),
        "db_once": sum(1 for m in acked if in_db[m] == 1),
        "db_missing": sum(1 for m in acked if in_db[m] == 0),
        "db_duplicated": sum(1 for m in acked if in_db[m] > 1),
    }


async def case_d(stack: Stack, meter: StackMeter, scale: Scale) -> list[dict]:
    """The first reply after an idle period, over `d_trials` periods (one sample each, so
    the verdict takes their median; all are printed); idle CPU over all of them."""
    (trainee,) = await open_trainees(stack, 1, "d")
    await closed_loop(stack, trainee, count=3)
    firsts: list[float] = []
    idle: Counter[str] = Counter()
    for _ in range(scale.d_trials):
        await asyncio.sleep(1.0)
        before = meter.snapshot()
        await asyncio.sleep(scale.d_idle_seconds)
        idle.update(meter.cpu_since(before))
        trainee.latencies.clear()
        await closed_loop(stack, trainee, count=trainee.sent + 1)
        firsts += trainee.latencies
    await trainee.close()
    idle_percent = {name: idle[name] / idle["t"] * 100 for name in ("web", "worker")}
    return [
        {
            "case": "d", "what": f"first reply after {scale.d_idle_seconds:g} s idle, {scale.d_trials} times",
            "n": len(firsts), "latency_ms": latency_stats(firsts), "errors": dict(trainee.errors),
            "rss_mib": meter.rss_mib(), "trials_ms": [round(f * 1000, 2) for f in firsts],
        },
        {
            "case": "idle", "what": f"idle CPU over {idle['t']:.0f} s (1 socket open)",
            "idle_cpu_percent": idle_percent, "errors": {},
            "other_cpu_percent": (idle["box"] - idle["web"] - idle["worker"] - idle["client"]) / idle["t"] * 100,
        },
    ]


async def case_e(root: Path, scale: Scale, compression: str | None, *, idle_cpu: bool) -> dict:
    """Idle sockets on a fresh stack, so the RSS delta is the sockets' alone."""
    label = "client offers deflate, as browsers do" if compression else "client offers no deflate"
    with running_stack(root, f"e-{compression or 'plain'}", {}) as stack:
        meter = StackMeter(stack)
        await close_all(await open_trainees(stack, 20, "e-warm", compression))  # first-use allocations
        trainees = await make_trainees(stack, scale.e_sockets, f"e-{compression or 'plain'}")
        await asyncio.sleep(1.0)
        baseline = meter.rss_mib()
        await connect_all(stack, trainees, compression)
        await asyncio.sleep(2.0)
        loaded = meter.rss_mib()
        row = {
            "case": "e", "what": f"{scale.e_sockets} idle sockets, {label}", "n": scale.e_sockets,
            "rss_mib": loaded, "baseline_rss_mib": baseline,
            "kib_per_socket": (loaded["web"] - baseline["web"]) * 1024 / scale.e_sockets,
            "errors": dict(sum((Counter(t.errors) for t in trainees), Counter())),
        }
        if idle_cpu:
            before = meter.snapshot()
            await asyncio.sleep(scale.e_idle_cpu_seconds)
            idle = meter.cpu_since(before)
            row["idle_cpu_percent"] = {name: idle[name] / idle["t"] * 100 for name in ("web", "worker")}
        await close_all(trainees)
    return row


async def case_s(root: Path, scale: Scale) -> list[dict]:
    """A paced mock LLM on its own stack: time to the first delta and to the reply."""
    first_chunk = int(STREAM_ENV["CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS"]) / 1000
    per_chunk = 1 / float(STREAM_ENV["CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND"])
    with running_stack(root, "stream", STREAM_ENV) as stack:
        meter = StackMeter(stack)
        trainees = await open_trainees(stack, scale.s_trainees, "s")
        before = meter.snapshot()
        await asyncio.gather(*(closed_loop(stack, t, count=scale.s_messages_each) for t in trainees))
        row = work_row("s", "", meter, before, trainees)
        await close_all(trainees)
    # What the paced mock alone takes per reply: the first chunk's wait, then one tick per
    # further chunk (12 characters each, the default).
    overhead = [
        latency - (first_chunk + (len(split_into_chunks(t.reply_texts[m], 12)) - 1) * per_chunk)
        for t in trainees for m, latency in t.by_message.items()
    ]
    first = latency_stats([d for t in trainees for d in t.first_deltas])
    concurrency = f"{scale.s_trainees} trainees x {scale.s_messages_each}, closed loop"
    return [
        {**row, "what": f"stream: first assistant_delta ({concurrency})", "latency_ms": first,
         "overhead_ms": None if first is None else first["p50"] - first_chunk * 1000},
        {**row, "what": "stream: final assistant_message", "overhead_ms": latency_stats(overhead)},
    ]
