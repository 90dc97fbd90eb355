"""Issue 4's benchmark: the real web and worker processes, started from the Procfile on a
temporary SQLite folder, driven by an asyncio WebSocket load generator that speaks the
public protocol. Prints one table; `--json` also writes every number.

    python -m bench.bench_chat                    # the full run, about 4 minutes
    python -m bench.bench_chat --quick            # a smoke run, about a minute
    python -m bench.bench_chat --cases a,c --json out.json
    python -m bench.bench_chat --cases a,c --profile prof/  # py-spy both processes in (a) and (c)

Cases: floor (ping -> pong, never touches the queue), a (one trainee, closed loop),
b (50 trainees at 2 messages/s each, open loop), c (200 trainees, closed loop:
saturation, and every reply delivered exactly once), d (the first reply after an idle
period, and idle CPU), e (idle sockets: web RSS per socket, with and without
permessage-deflate, each on a fresh stack), s (a second stack whose mock LLM is paced
like a real one: time to the first delta and to the final message).

Latency runs from sending a user_message to receiving the assistant_message whose
metadata.reply_to is the ack's message_id; in the open loop it runs from the scheduled
send time, so a late client cannot hide queueing. A trainee whose session ends (its script
is done) starts a new one, outside the timed round trips. CPU is psutil's user+system time of
each Procfile process and its children: Hypercorn serves from a child it spawns (the
master and multiprocessing's resource tracker idle), huey_consumer is one process with
threads. RSS is that of the serving process.
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

from bench.cases import (
    case_a,
    case_b,
    case_c,
    case_d,
    case_e,
    case_floor,
    case_s,
    running_stack,
)
from bench.meter import StackMeter
from bench.profiling import summarise_profile
from bench.settings import ALL_CASES, QUICK, Scale
from bench.table import machine_line, render
from bench.trainees import closed_loop, open_trainees  # noqa: F401 - for scripts that import them from here
from tests.support.stack import procfile_commands

# --- main ------------------------------------------------------------------------------------


async def run(cases: set[str], scale: Scale, root: Path, profile_dir: Path | None) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    info: dict[str, Any] = {}
    with running_stack(root, "main", {}) as stack:
        meter = StackMeter(stack)
        info["pids"] = {name: {"procfile_pid": p.pid, "server_pid": meter.procs[name].server().pid}
                        for name, p in stack.processes.items()}
        rows.append(await case_floor(stack, meter, scale))  # the ratio base, always
        if "a" in cases:
            rows.append(await case_a(stack, meter, scale, profile_dir))
        if "b" in cases:
            rows.append(await case_b(stack, meter, scale))
        if "c" in cases:
            rows.append(await case_c(stack, meter, scale, profile_dir))
        if "d" in cases:
            rows.extend(await case_d(stack, meter, scale))
    if "e" in cases:
        rows.append(await case_e(root, scale, "deflate", idle_cpu=True))
        rows.append(await case_e(root, scale, None, idle_cpu=False))
    if "s" in cases:
        rows.extend(await case_s(root, scale))
    return rows, info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, 5 s idle, 200 sockets: a smoke run")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help=f"comma-separated, from {','.join(ALL_CASES)}")
    parser.add_argument("--idle-seconds", type=float, help="case d's idle period (default 60, quick 5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the web and worker during case c")
    parser.add_argument("--keep", action="store_true", help="keep the data folders (databases, logs)")
    args = parser.parse_args(argv)
    args.cases = {c.strip() for c in args.cases.split(",") if c.strip()}
    unknown = args.cases - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown cases {', '.join(sorted(unknown))}; choose from {','.join(ALL_CASES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    scale = QUICK if args.quick else Scale()
    if args.idle_seconds is not None:
        scale = replace(scale, d_idle_seconds=args.idle_seconds)
    raise_fd_limit(scale.e_sockets + scale.c_trainees)
    root = Path(tempfile.mkdtemp(prefix="chattrain-bench-"))
    try:
        started = time.monotonic()
        load_before = f"{os.getloadavg()[0]:.2f}"
        runner = _runner()
        with runner:
            rows, info = runner.run(run(args.cases, scale, root, args.profile))
        header = machine_line() + f" | load average {load_before} -> {os.getloadavg()[0]:.2f}" + (
            f"\nmock LLM at zero delay; web = Hypercorn serving in-process (pid {info['pids']['web']['server_pid']}),"
            f" worker = {procfile_commands()['worker'].split(' --')[0]} with{procfile_commands()['worker'].split('worker.main.huey')[1]}"
            f" (pid {info['pids']['worker']['server_pid']}); "
            f"run took {time.monotonic() - started:.0f} s"
        )
        print(render(rows, header))
        if args.profile:
            for path in sorted(args.profile.glob("*.txt")):
                if path.stat().st_size:
                    print("\n" + summarise_profile(path))
        if args.json:
            args.json.write_text(json.dumps({"machine": machine_line(), "info": info, "scale": scale.__dict__,
                                             "rows": rows}, indent=2))
    finally:
        if args.keep:
            print(f"data kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def raise_fd_limit(sockets: int) -> None:
    """Each socket costs a descriptor here and one in the web process, which inherits this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 1024
    if soft < wanted and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def _runner() -> asyncio.Runner:
    """The client on uvloop when it is installed, so the load generator costs less CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    main()
