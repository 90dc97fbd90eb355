"""The guards: cases on the zero-delay mock LLM that keep ChatTrain's own cost per
message in check (floor, a, c, idle, e). Each drives a stack with trainees and returns its
row for the table."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.database import delivery_check
from bench.meter import StackMeter, latency_stats
from bench.profiling import start_profilers, stop_profilers
from bench.settings import Scale
from bench.stacks import running_stack
from bench.trainees import Trainee, close_all, closed_loop, connect_all, make_trainees, open_trainees
from tests.support.stack import Stack


def work_row(case: str, what: str, meter: StackMeter, before: dict, trainees: list[Trainee], **extra: Any) -> dict:
    """A row for a loaded case: throughput, latency, errors, CPU per reply, RSS."""
    cpu = meter.cpu_since(before)
    replies = sum(len(t.latencies) for t in trainees)
    errors = Counter()
    for t in trainees:
        errors.update(t.errors)
    per_reply = {name: cpu[name] / replies * 1000 for name in meter.procs} if replies else {}
    return {
        "case": case,
        "model": "mock",
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
        "other_cpu_percent": meter.other_cpu_percent(cpu),
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
        "case": "floor",
        "model": "mock",
        "what": "ping -> pong (no queue)",
        "n": len(latencies),
        "replies_per_second": len(latencies) / cpu["t"],
        "latency_ms": latency_stats(latencies),
        "errors": dict(trainee.errors),
        "rss_mib": meter.rss_mib(),
        "cpu_ms_per_reply": {
            "web": cpu["web"] / len(latencies) * 1000,
            "worker": cpu["worker"] / len(latencies) * 1000,
        },
        "other_cpu_percent": meter.other_cpu_percent(cpu),
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
    row["missing"] = row["delivery"]["sent"] - row["delivery"]["socket_once"] - row["delivery"]["socket_duplicated"]
    await close_all(trainees)
    return row


async def case_e(root: Path, scale: Scale, compression: str | None, *, idle_cpu: bool) -> dict:
    """Idle sockets on a fresh stack, so the RSS delta is the sockets' alone."""
    label = "client offers deflate, as browsers do" if compression else "client offers no deflate"
    with running_stack(root, f"e-{compression or 'plain'}", {}) as stack:
        meter = StackMeter(stack)
        await close_all(await open_trainees(stack, 20, "e-warm", compression))  # first-use allocations
        trainees = await make_trainees(stack, scale.e_sockets, f"e-{compression or 'plain'}")
        await asyncio.sleep(scale.settle_seconds / 2)
        baseline = meter.rss_mib()
        await connect_all(stack, trainees, compression)
        await asyncio.sleep(scale.settle_seconds)
        loaded = meter.rss_mib()
        row = {
            "case": "e",
            "model": "mock",
            "what": f"{scale.e_sockets} idle sockets, {label}",
            "n": scale.e_sockets,
            "rss_mib": loaded,
            "baseline_rss_mib": baseline,
            "kib_per_socket": (loaded["web"] - baseline["web"]) * 1024 / scale.e_sockets,
            "errors": dict(sum((Counter(t.errors) for t in trainees), Counter())),
        }
        if idle_cpu:
            before = meter.snapshot()
            await asyncio.sleep(scale.idle_seconds)
            idle = meter.cpu_since(before)
            row["idle_cpu_percent"] = {name: idle[name] / idle["t"] * 100 for name in ("web", "worker")}
        await close_all(trainees)
    return row


async def case_idle(stack: Stack, meter: StackMeter, scale: Scale) -> dict:
    """The CPU web and worker use while nobody chats (one socket open, after a few replies)."""
    (trainee,) = await open_trainees(stack, 1, "idle")
    await closed_loop(stack, trainee, count=3)
    await asyncio.sleep(1.0)
    before = meter.snapshot()
    await asyncio.sleep(scale.idle_seconds)
    idle = meter.cpu_since(before)
    await trainee.close()
    return {
        "case": "idle",
        "model": "mock",
        "what": f"idle CPU over {idle['t']:.0f} s (1 socket open)",
        "idle_cpu_percent": {name: idle[name] / idle["t"] * 100 for name in ("web", "worker")},
        "errors": dict(trainee.errors),
        "rss_mib": meter.rss_mib(),
        "other_cpu_percent": meter.other_cpu_percent(idle),
    }
