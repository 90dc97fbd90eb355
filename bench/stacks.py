"""What a row runs on: a stack started from the Procfile (`running_stack`), and for the
realistic cases a stack whose model is paced like a hosted one (`model_stack`): either the
worker's mock LLM, paced by its settings, or the OpenAI-compatible provider talking to
bench/fake_llm.py, started here as a process of its own on loopback."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.fake_llm import Pacing
from bench.meter import StackMeter
from bench.settings import BENCH_ENV, OPENAI_ENV, STALL_EVERY_NTH
from tests.support.stack import REPO_ROOT, Stack, free_port

_stopping: list[threading.Thread] = []


@contextlib.contextmanager
def running_stack(root: Path, name: str, env: dict[str, str]) -> Iterator[Stack]:
    """A stack started for one row. On the way out its processes are told to stop at once,
    and waited for in the background (Hypercorn takes a second to shut down) while the
    next row's stack starts; that one is yielded once they are gone."""
    stack = Stack(data_dir=root / name, extra_env={**BENCH_ENV, **env})
    try:
        stack.start_all(timeout=60)
        wait_stopped()  # the last row's stack is gone before this one is measured
        yield stack
    except Exception:
        print(f"--- logs of the {name} stack (tail) ---\n{stack.all_logs()[-4000:]}", file=sys.stderr)
        raise
    finally:
        for process in stack.processes:
            with contextlib.suppress(ProcessLookupError):
                stack.send_signal(process, signal.SIGTERM)
        stopper = threading.Thread(target=stack.stop_all, name=f"stop {name}")
        stopper.start()
        _stopping.append(stopper)


def wait_stopped() -> None:
    """Wait until every stack started here has stopped."""
    while _stopping:
        _stopping.pop().join()


def mock_env(pacing: Pacing) -> dict[str, str]:
    """The worker's mock LLM paced as `pacing` says (its stall falls on sessions whose id
    is a multiple of STALL_EVERY_NTH)."""
    env = {
        "CHATTRAIN_LLM_PROVIDER": "mock",
        "CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": str(int(pacing.first_chunk_ms)),
        "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": f"{pacing.chunks_per_second:g}",
        "CHATTRAIN_MOCK_LLM_CHUNK_CHARS": str(pacing.chunk_chars),
    }
    if pacing.stall_ms:
        env["CHATTRAIN_MOCK_LLM_STALL_MS"] = str(int(pacing.stall_ms))
        env["CHATTRAIN_MOCK_LLM_STALL_EVERY_NTH_SESSION"] = str(STALL_EVERY_NTH)
    return env


class FakeLLMProcess:
    """bench/fake_llm.py in a process of its own (so its CPU is measured apart and it does
    not share this client's event loop), logging to `log_path`."""

    def __init__(self, pacing: Pacing, log_path: Path):
        self.port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.fake_llm", "--port", str(self.port),
                 "--first-chunk-ms", f"{pacing.first_chunk_ms:g}", "--chunks-per-second", f"{pacing.chunks_per_second:g}",
                 "--chunk-chars", str(pacing.chunk_chars), "--stall-ms", f"{pacing.stall_ms:g}",
                 "--stall-marker", pacing.stall_marker],
                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            )
        self._wait_listening(log_path)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait_listening(self, log_path: Path, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fake LLM exited with {self.process.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"fake LLM not listening after {timeout:g} s")

    def stats(self) -> dict[str, int]:
        return httpx.get(f"http://127.0.0.1:{self.port}/_stats", timeout=10).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class ModelStack:
    """A running stack, its meter, and the fake model server behind it (None for the mock)."""

    stack: Stack
    meter: StackMeter
    model: str
    fake: FakeLLMProcess | None


@contextlib.contextmanager
def model_stack(root: Path, name: str, model: str, pacing: Pacing, env: dict[str, str] | None = None) -> Iterator[ModelStack]:
    """A fresh stack whose replies come from a model paced as `pacing` says: `mock` (the
    worker's own, paced by its settings) or `openai` (the fake server on loopback)."""
    env = dict(env or {})
    fake = None
    if model == "openai":
        fake = FakeLLMProcess(pacing, root / name / "fake-llm.log")
        env.update(OPENAI_ENV, CHATTRAIN_LLM_BASE_URL=fake.base_url)
    else:
        env.update(mock_env(pacing))
    try:
        with running_stack(root, name, env) as stack:
            yield ModelStack(stack, StackMeter(stack, fake.process.pid if fake else None), model, fake)
    finally:
        if fake is not None:
            fake.stop()
