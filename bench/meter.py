"""Measuring the stack: CPU and memory of the Procfile processes and of the fake model
server (and of this client and the whole box), how late this client's event loop runs,
and latency percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

import psutil

from tests.support.stack import Stack


class ProcessMeter:
    """CPU and memory of one Procfile process and its children."""

    def __init__(self, name: str, pid: int):
        self.name = name
        self.root = psutil.Process(pid)

    def tree(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def server(self) -> psutil.Process:
        """The process doing the work: Hypercorn's spawned worker, else the root."""
        workers = [p for p in self.root.children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
        return workers[0] if workers else self.root

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        return self.server().memory_info().rss


class StackMeter:
    """The stack's processes ("web", "worker") and, in an `openai` row, the fake model
    server ("llm"), whose cost is the model's and not the stack's."""

    def __init__(self, stack: Stack, llm_pid: int | None = None):
        self.stack = stack
        self.procs = {name: ProcessMeter(name, p.pid) for name, p in stack.processes.items()}
        if llm_pid is not None:
            self.procs["llm"] = ProcessMeter("llm", llm_pid)
        self.client = psutil.Process()

    def snapshot(self) -> dict[str, float]:
        snap = {name: m.cpu_seconds() for name, m in self.procs.items()}
        times = self.client.cpu_times()
        box = psutil.cpu_times()
        busy = (
            sum(box)
            - box.idle
            - getattr(box, "iowait", 0.0)
            - getattr(box, "guest", 0.0)
            - getattr(box, "guest_nice", 0.0)
        )
        return {**snap, "client": times.user + times.system, "box": busy, "t": time.perf_counter()}

    def cpu_since(self, before: dict[str, float]) -> dict[str, float]:
        after = self.snapshot()
        return {name: after[name] - before[name] for name in before}

    def rss_mib(self) -> dict[str, float]:
        return {name: m.rss_bytes() / 2**20 for name, m in self.procs.items()}

    def pids(self) -> dict[str, int]:
        return {name: m.server().pid for name, m in self.procs.items() if name != "llm"}

    def other_cpu_percent(self, cpu: dict[str, float]) -> float:
        """CPU of the box that neither these processes nor this client used, % of a core."""
        ours = sum(cpu[name] for name in self.procs) + cpu["client"]
        return (cpu["box"] - ours) / cpu["t"] * 100 if cpu["t"] else 0.0


class LoopLag:
    """How late this client's event loop wakes up (a sleeper every 50 ms): when it runs
    late, the client's receipt times, hence the overheads, include its own queueing."""

    def __init__(self, period: float = 0.05):
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    async def _tick(self) -> None:
        while True:
            due = time.perf_counter() + self.period
            await asyncio.sleep(self.period)
            self.lags.append(max(time.perf_counter() - due, 0.0))

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def stats(self) -> dict[str, float] | None:
        return latency_stats(self.lags)


def latency_stats(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] * 1000

    return {"n": len(ordered), "p50": rank(50), "p90": rank(90), "p99": rank(99), "max": ordered[-1] * 1000}
