"""The chat benchmark: the real web and worker processes, started from the Procfile on a
temporary SQLite folder, driven by an asyncio WebSocket load generator (one process, on
uvloop) that speaks the public protocol. Prints one table; `--json` also writes every number.

    python -m bench.bench_chat                    # the full run, about 15 minutes
    python -m bench.bench_chat --quick            # a smoke run, about a minute
    python -m bench.bench_chat --cases r1,a --models openai --json out.json
    python -m bench.bench_chat --cases a,c --profile prof/  # py-spy the processes in (a) and (c)

Realistic cases r1-r3 run on two layouts, side by side in the table: the Procfile's web +
worker on SQLite, and `scaled` (model column "…, scaled"): two web processes and two
workers, each with its own data folder, on PostgreSQL + Redis, the sockets spread over both
web processes (CPU per reply sums each kind's two processes; RSS is the larger). Each case
runs twice on a fresh stack: with the worker's mock LLM paced like a
hosted model (`mock`: 800 ms to the first chunk, then 25 chunks of 12 characters a second)
and with the OpenAI-compatible provider streaming from bench/fake_llm.py on loopback, paced
the same (`openai`; its own CPU and RSS are the `llm` column):
r1 (200 trainees, a message every 10 s each on average, Poisson arrivals, open loop, 60 s,
then a drain), r2 (1,000 trainees, the same), r3 (as r1, but the model stalls 30 s before
its first chunk for one trainee in ten: the others against r1's bounds, the stalled ones on
a row of their own; the fake server plays the stalling model, so r3 runs as `openai` only), r4 (2,000
trainees, as r2: on one box, the Procfile's layout beside the in-process reference, mock
only, whatever --layouts says), m (500 trainees send one message at once to a model 20 s from its
first chunk: are they all in flight in the one worker process, and the worker's memory per
reply in flight).

The in-process reference (bench/reference_server.py; model column "mock, reference" in r4,
"reference" in c): one Quart
process on Hypercorn with our schema, no queue, no worker, deltas straight to the socket,
each reply stored once; the yardstick for r4 and for case c, which also runs on it (unpaced).
Under the table: our r4 first-delta p99 against the reference's (+ 60 ms), and our case c
replies/s over the reference's.

Guards, on the mock at zero delay: floor (ping -> pong, never touches the queue), a (one
trainee, closed loop), c (200 trainees, closed loop: saturation, and every reply delivered
exactly once), idle (the CPU of web and worker while nobody chats), e (idle sockets: web RSS
per socket, with and without permessage-deflate, each on a fresh stack).

Columns: queue = model_requested_at - enqueued_at (the worker's stamps in reply_jobs);
1st delta + = this client's receipt of the reply's first assistant_delta - the worker's
model_first_chunk_at; final + = receipt of the assistant_message - model_last_chunk_at (all
time.time() on this host). e2e runs from the (scheduled, in an open loop) send to the
assistant_message, so a late client cannot hide queueing. CPU is psutil's user+system time of
each process and its children per reply delivered (Hypercorn serves from a child it spawns);
RSS is that of the serving process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.cases import case_a, case_c, case_e, case_floor, case_idle
from bench.load_cases import case_m, case_r
from bench.meter import StackMeter
from bench.profiling import summarise_profile
from bench.settings import ALL_CASES, CHUNK_CHARS, CHUNKS_PER_SECOND, FIRST_CHUNK_MS, LOAD_CASES, MODELS, QUICK, Scale
from bench.stacks import LAYOUTS, REFERENCE, running_stack, wait_stopped
from bench.table import machine_line, reference_lines, render, set_r4_against_the_reference
from tests.support.stack import procfile_commands

# --- main ------------------------------------------------------------------------------------


async def run(
    cases: set[str],
    models: list[str],
    scale: Scale,
    root: Path,
    profile_dir: Path | None,
    layouts: tuple[str, ...] = LAYOUTS,
) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    info: dict[str, Any] = {"seconds": {}}

    def timed(label: str, began: float) -> None:
        info["seconds"][label] = round(time.monotonic() - began, 1)
        print(f"{label}: {info['seconds'][label]:.0f} s", file=sys.stderr, flush=True)

    for case in LOAD_CASES:
        for layout in _layouts_of(case, layouts):
            for model in _models_of(case, models) if case in cases else ():
                began = time.monotonic()
                if case == "m":
                    rows.append(await case_m(root, scale, model))
                else:
                    rows.extend(await case_r(root, scale, case, model, layout, profile_dir))
                timed(f"{case} {model} {layout}", began)
    set_r4_against_the_reference(rows)
    if cases & {"floor", "a", "c", "idle"}:
        began = time.monotonic()
        with running_stack(root, "guards", {}) as stack:
            meter = StackMeter(stack)
            info["pids"] = meter.pids()
            if "floor" in cases:
                rows.append(await case_floor(stack, meter, scale))
            if "a" in cases:
                rows.append(await case_a(stack, meter, scale, profile_dir))
            if "c" in cases:
                rows.append(await case_c(stack, meter, scale, profile_dir))
                ours = rows[-1]
            if "idle" in cases:
                rows.append(await case_idle(stack, meter, scale))
        timed("guards", began)
    if "c" in cases:
        began = time.monotonic()
        rows.append(await _case_c_on_the_reference(root, scale))
        if rows[-1]["replies_per_second"]:
            ours["reference_ratio"] = ours["replies_per_second"] / rows[-1]["replies_per_second"]
        timed("c reference", began)
    if "e" in cases:
        began = time.monotonic()
        rows.append(await case_e(root, scale, "deflate", idle_cpu=True))
        rows.append(await case_e(root, scale, None, idle_cpu=False))
        timed("e", began)
    return rows, info


def _layouts_of(case: str, layouts: tuple[str, ...]) -> tuple[str, ...]:
    """m measures one worker process, so it runs on the Procfile's layout only; r4 is the
    one-box case, on the Procfile's layout and on the in-process reference, whatever
    --layouts says."""
    return {"m": ("sqlite",), "r4": ("sqlite", REFERENCE)}.get(case, layouts)


def _models_of(case: str, models: list[str]) -> list[str]:
    """r3's stalling model is played by the fake server alone (bench/fake_llm.py); r4's by
    the mock, the one model the reference has."""
    return {"r3": ["openai"], "r4": ["mock"]}.get(case, models)


async def _case_c_on_the_reference(root: Path, scale: Scale) -> dict:
    """Case c on the in-process reference, unpaced like the guards' mock: the rate ours is
    set against."""
    with running_stack(root, "c-reference", {}, REFERENCE) as stack:
        row = await case_c(stack, StackMeter(stack), scale, None)
    return {**row, "model": REFERENCE}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: seconds per case, a few dozen trainees")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help=f"comma-separated, from {','.join(ALL_CASES)}")
    parser.add_argument(
        "--models", default=",".join(MODELS), help="the rows of the realistic cases: mock, openai or both"
    )
    parser.add_argument(
        "--layouts",
        default=",".join(LAYOUTS),
        help="the realistic cases' layouts: sqlite (the Procfile's web + worker), scaled (2 web + 2 workers "
        "on PostgreSQL + Redis), or both",
    )
    parser.add_argument("--idle-seconds", type=float, help="the idle guard's period (default 30, quick 2)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy the web and worker during the realistic cases and cases a and c",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folders (databases, logs)")
    args = parser.parse_args(argv)
    args.cases = {c.strip() for c in args.cases.split(",") if c.strip()}
    unknown = args.cases - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown cases {', '.join(sorted(unknown))}; choose from {','.join(ALL_CASES)}")
    args.layouts = tuple(layout for layout in LAYOUTS if layout in {x.strip() for x in args.layouts.split(",")})
    if not args.layouts:
        parser.error(f"--layouts: choose from {','.join(LAYOUTS)}")
    args.models = [m for m in MODELS if m in {m.strip() for m in args.models.split(",")}]
    if not args.models:
        parser.error(f"--models: choose from {','.join(MODELS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    scale = QUICK if args.quick else Scale()
    if args.idle_seconds is not None:
        scale = replace(scale, idle_seconds=args.idle_seconds)
    raise_fd_limit(max(scale.e_sockets, scale.r2_trainees, scale.r4_trainees, scale.m_trainees, scale.c_trainees) * 2)
    root = Path(tempfile.mkdtemp(prefix="chattrain-bench-"))
    try:
        started = time.monotonic()
        load_before = f"{os.getloadavg()[0]:.2f}"
        try:
            with _runner() as runner:
                rows, info = runner.run(run(args.cases, args.models, scale, root, args.profile, args.layouts))
        finally:
            wait_stopped()
        worker = procfile_commands()["worker"]
        header = (
            machine_line()
            + f" | load average {load_before} -> {os.getloadavg()[0]:.2f}"
            + (
                f"\nmock = the worker's mock LLM, openai = the OpenAI-compatible provider -> bench/fake_llm.py on loopback;"
                f" both paced {FIRST_CHUNK_MS} ms to the first chunk, then {CHUNKS_PER_SECOND} chunks/s of {CHUNK_CHARS} chars"
                f" (guards: the mock at zero delay)\nworker = {worker.split(' worker.main.huey')[0]} with{worker.split('worker.main.huey')[1]};"
                f" web = Hypercorn serving in-process; run took {time.monotonic() - started:.0f} s"
                + (
                    "\nreference = bench/reference_server.py: one process, metered as web; the mock's text, paced by"
                    " asyncio.sleep, deltas straight to the socket, the reply stored once"
                    if any(REFERENCE in r.get("model", "") for r in rows)
                    else ""
                )
            )
        )
        print(render(rows, header))
        for line in reference_lines(rows):
            print(line)
        if args.profile:
            for path in sorted(args.profile.glob("*.txt")):
                if path.stat().st_size:
                    print("\n" + summarise_profile(path))
        if args.json:
            args.json.write_text(
                json.dumps({"machine": machine_line(), "info": info, "scale": scale.__dict__, "rows": rows}, indent=2)
            )
    finally:
        if args.keep:
            print(f"data kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def raise_fd_limit(sockets: int) -> None:
    """Each socket costs a descriptor here and one in the web process (and each model stream
    one in the worker and the fake server), which inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 1024
    if soft < wanted and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )


def _runner() -> asyncio.Runner:
    """The client on uvloop when it is installed, so the load generator costs less CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    main()
