"""`--profile`: py-spy on the web and worker processes during a case, and a summary of
what it recorded."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.meter import StackMeter


def start_profilers(meter: StackMeter, folder: Path, case: str) -> list[subprocess.Popen]:
    """py-spy on the web and worker processes: collapsed stacks of the threads holding the
    GIL (`--gil`), i.e. Python's CPU time. Plain sampling is no good here: py-spy counts
    threads blocked in queue.get, time.sleep or select as busy, whatever --idle says."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "250",
                "--gil",
                "--format",
                "raw",
                "--output",
                str(folder / f"{case}-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / f"{case}-{name}.log", "wb"),
        )
        for name, pid in meter.pids().items()
    ]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    """py-spy writes its file when interrupted."""
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(60)


def summarise_profile(path: Path, top: int = 12) -> str:
    """py-spy raw output: the frames with the most self time, and our own functions with
    the most inclusive time (a function counts once per sample however deep it recurses)."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        self_time[frames[-1]] += int(count)
        functions = {
            f.split(":")[0] + ")" for f in frames if f.split("(")[-1].startswith(("web/", "worker/", "shared/"))
        }
        inclusive.update(dict.fromkeys(functions, int(count)))
    if not total:
        return f"{path.stem}: no samples"
    lines = [f"{path.stem}: {total} samples holding the GIL; self time:"]
    lines += [f"  {n / total * 100:5.1f}%  {frame}" for frame, n in self_time.most_common(top)]
    lines.append("  our code, inclusive:")
    lines += [f"  {n / total * 100:5.1f}%  {function}" for function, n in inclusive.most_common(top)]
    return "\n".join(lines)
