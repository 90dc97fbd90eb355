"""The realistic cases, each run once per model (`mock`: the worker's paced mock LLM;
`openai`: the OpenAI-compatible provider against bench/fake_llm.py), each row on a fresh
stack:

r1, r2  trainees each sending a message every `mean_interval` on average (Poisson
        arrivals, open loop) for `load_seconds`, then a drain
r3      like r1, but the model stalls before its first chunk for the trainees whose
        session id is a multiple of ten; they get a row of their own
r4      like r2 with twice the trainees, on the Procfile's layout and on the in-process
        reference (bench/reference_server.py), mock only, side by side
m       every trainee sends one message at once to a model that takes `m_first_chunk_ms`
        to its first chunk: are they all in flight at once, and what does one cost the
        worker in memory
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

from bench.database import delivery_check, overheads, read_stamps
from bench.fake_llm import Pacing
from bench.meter import LoopLag, latency_stats
from bench.profiling import start_profilers, stop_profilers
from bench.settings import CHUNK_CHARS, CHUNKS_PER_SECOND, FIRST_CHUNK_MS, STALL_EVERY_NTH, STALL_MARKER, Scale
from bench.stacks import ModelStack, model_stack
from bench.trainees import Trainee, close_all, connect_all, make_trainees, poisson_loop


def _pacing(first_chunk_ms: float = FIRST_CHUNK_MS, stall_ms: float = 0) -> Pacing:
    return Pacing(first_chunk_ms, CHUNKS_PER_SECOND, CHUNK_CHARS, stall_ms, STALL_MARKER if stall_ms else "")


def _errors(trainees: list[Trainee]) -> dict[str, int]:
    errors: Counter[str] = Counter()
    for t in trainees:
        errors.update(t.errors)
    return dict(errors)


def _missing(trainees: list[Trainee]) -> int:
    """Messages sent that have no reply on their socket (acked or not)."""
    return sum(t.sent - sum(1 for m in t.acked if t.replies[m]) for t in trainees)


def _cost(ms: ModelStack, cpu: dict[str, float], replies: int) -> dict:
    """CPU per reply of each kind of process (ms; the scaled layout's two web processes
    summed, and its two workers), the largest RSS of each kind (MiB), and the box's other
    load."""
    per_reply: dict[str, float] = {}
    rss: dict[str, float] = {}
    for name, mib in ms.meter.rss_mib().items():
        kind = name.rstrip("2")
        per_reply[kind] = per_reply.get(kind, 0.0) + (cpu[name] / replies * 1000 if replies else 0.0)
        rss[kind] = max(rss.get(kind, 0.0), mib)
    return {
        "cpu_ms_per_reply": per_reply if replies else {},
        "rss_mib": rss,
        "client_cpu_percent": cpu["client"] / cpu["t"] * 100,
        "other_cpu_percent": ms.meter.other_cpu_percent(cpu),
    }


def _replies_row(case: str, model: str, what: str, trainees: list[Trainee], stamps: dict | str, **extra) -> dict:
    """The figures of these trainees' replies: delivery, latency from the scheduled send,
    the queue wait and the overheads over the model's own time."""
    timing = overheads(trainees, stamps) if isinstance(stamps, dict) else {}
    return {
        "case": case,
        "model": model,
        "what": what,
        "trainees": len(trainees),
        "n": sum(len(t.latencies) for t in trainees),
        "latency_ms": latency_stats([s for t in trainees for s in t.latencies]),
        "queue_ms": timing.get("queue_ms"),
        "first_delta_ms": timing.get("first_delta_ms"),
        "final_ms": timing.get("final_ms"),
        "stamps_note": stamps if isinstance(stamps, str) else None,
        "missing": _missing(trainees),
        "errors": _errors(trainees),
        **extra,
    }


async def case_r(
    root: Path, scale: Scale, case: str, model: str, layout: str = "sqlite", profile_dir: Path | None = None
) -> list[dict]:
    n = {"r1": scale.r1_trainees, "r2": scale.r2_trainees, "r3": scale.r3_trainees, "r4": scale.r4_trainees}[case]
    stalls = case == "r3"
    pacing = _pacing(stall_ms=scale.stall_ms if stalls else 0)
    with model_stack(root, f"{case}-{model}-{layout}", model, pacing, layout=layout) as ms:
        trainees = await make_trainees(ms.stack, n, case)
        stalled = [t for t in trainees if stalls and t.session_id % STALL_EVERY_NTH == 0]
        for t in stalled:
            t.marker = STALL_MARKER
        await connect_all(ms.stack, trainees)
        start = time.perf_counter() + 0.2
        until = start + scale.load_seconds
        before = ms.meter.snapshot()
        profilers = start_profilers(ms.meter, profile_dir, f"{case}-{model}-{layout}") if profile_dir else []
        with LoopLag() as lag:
            # Each schedule is seeded with its session id: a fresh stack numbers its sessions
            # alike, so both rows of a case send the same messages at the same moments.
            await asyncio.gather(
                *(
                    poisson_loop(
                        ms.stack,
                        t,
                        start=start,
                        until=until,
                        mean_interval=scale.mean_interval,
                        rng=random.Random(t.session_id),
                    )
                    for t in trainees
                )
            )
            outstanding = [f for t in trainees for f in t.outstanding]
            if outstanding:
                await asyncio.wait(outstanding, timeout=scale.drain_seconds)
        cpu = ms.meter.cpu_since(before)
        stop_profilers(profilers)
        delivered = sum(len(t.latencies) for t in trainees)
        cost = _cost(ms, cpu, delivered)
        await asyncio.sleep(0.3)  # let any duplicate frame arrive before counting
        await close_all(trainees)  # what the sockets got is final from here
        delivery = delivery_check(ms.stack, trainees)
        stamps = read_stamps(ms.stack, (m for t in trainees for m in t.acked))
        fake_stats = ms.fake.stats() if ms.fake else None
    ok = [t for t in trainees if t not in stalled]
    # Replies/s between the first reply and the last (a stack that keeps up answers at the
    # arrival rate, each reply a model's time after its message; one that cannot, slower),
    # against the messages sent per second; in r3, of the trainees not stalled.
    finals = sorted(at for t in ok for at in t.final_at.values())
    span = finals[-1] - finals[0] if len(finals) > 1 else 0.0
    sent = sum(t.sent for t in ok)
    what = f"{n} trainees, 1 msg/{scale.mean_interval:g} s each (Poisson), {scale.load_seconds:g} s"
    label = model if layout == "sqlite" else f"{model}, {layout}"
    row = _replies_row(
        case,
        label,
        what + (f"; the {len(ok)} not stalled" if stalls else ""),
        ok,
        stamps,
        sent=sent,
        arrivals_per_second=sent / scale.load_seconds,
        replies_per_second=(len(finals) - 1) / span if span > 0 else 0.0,
        delivery=delivery,
        client_lag_ms=lag.stats(),
        send_lag_ms=max((t.send_lag for t in trainees), default=0) * 1000,
        fake=fake_stats,
        **cost,
    )
    rows = [row]
    if stalls:
        rows.append(
            _replies_row(
                case,
                label,
                f"r3: the {len(stalled)} whose model stalls {scale.stall_ms / 1000:g} s",
                stalled,
                stamps,
                stalled=True,
            )
        )
    return rows


async def case_m(root: Path, scale: Scale, model: str) -> dict:
    """Every trainee sends one message at once to a model slow to start: the worker's RSS
    idle (after one reply, so what the first reply loads is not counted) against its peak
    while they are all in flight, and how many were in flight before the first finished."""
    n = scale.m_trainees
    with model_stack(root, f"m-{model}", model, _pacing(first_chunk_ms=scale.m_first_chunk_ms)) as ms:
        warm, *trainees = await make_trainees(ms.stack, n + 1, "m")
        await connect_all(ms.stack, [warm, *trainees])
        await asyncio.wait_for(await warm.say(), scale.m_first_chunk_ms / 1000 + scale.drain_seconds)
        await asyncio.sleep(scale.settle_seconds)
        idle_rss = ms.meter.rss_mib()
        before = ms.meter.snapshot()
        with LoopLag() as lag:
            done = await asyncio.gather(*(t.say() for t in trainees))
            peak = dict(idle_rss)
            while not any(t.final_at for t in trainees) and not all(f.done() for f in done):
                for name, mib in ms.meter.rss_mib().items():
                    peak[name] = max(peak[name], mib)
                await asyncio.sleep(0.25)
            await asyncio.wait(done, timeout=scale.m_first_chunk_ms / 1000 + scale.drain_seconds)
        cpu = ms.meter.cpu_since(before)
        delivered = sum(len(t.latencies) for t in trainees)
        cost = _cost(ms, cpu, delivered)
        await asyncio.sleep(0.3)
        await close_all([warm, *trainees])
        delivery = delivery_check(ms.stack, trainees)
        stamps = read_stamps(ms.stack, (m for t in trainees for m in t.acked))
        fake_stats = ms.fake.stats() if ms.fake else None
    first_final = min((at for t in trainees for at in t.final_at.values()), default=float("inf"))
    typing_before = sum(1 for t in trainees for at in t.typing_at.values() if at < first_final)
    requested_before = None
    if isinstance(stamps, dict) and stamps:
        first_done = min(
            (s.last_chunk_at for s in stamps.values() if s.last_chunk_at is not None), default=float("inf")
        )
        requested_before = sum(1 for s in stamps.values() if s.requested_at is not None and s.requested_at < first_done)
    in_flight = requested_before if requested_before is not None else typing_before
    grown = peak["worker"] - idle_rss["worker"]
    return _replies_row(
        "m",
        model,
        f"{n} trainees send one message at once; {scale.m_first_chunk_ms / 1000:g} s to the first chunk",
        trainees,
        stamps,
        delivery=delivery,
        client_lag_ms=lag.stats(),
        fake=fake_stats,
        in_flight={
            "model_requested": requested_before,
            "typing_frames": typing_before,
            "fake_peak_streams": fake_stats["peak_open"] if fake_stats else None,
            "of": n,
        },
        in_flight_count=in_flight,
        idle_rss_mib=idle_rss,
        peak_rss_mib=peak,
        kib_per_reply_in_flight=grown * 1024 / in_flight if in_flight else None,
        **cost,
    )
