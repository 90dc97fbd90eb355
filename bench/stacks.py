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
from bench.settings import BENCH_ENV, OPENAI_ENV
from tests.support.servers import backends_for
from tests.support.stack import REPO_ROOT, Stack, free_port, stop_group

_stopping: list[threading.Thread] = []


# The layouts a realistic case runs on: `sqlite`, the Procfile's web + worker on one data
# folder; `scaled`, two web processes and two workers, each with its own folder, sharing
# PostgreSQL and Redis (a throwaway database and key prefix on the servers the tests use).
LAYOUTS = ("sqlite", "scaled")
# Not a layout of ours: bench/reference_server.py, the yardstick rows r4 and c run beside.
REFERENCE = "reference"


class ScaledStack:
    """Two stacks (web + worker each) on shared PostgreSQL and Redis, seen as one: its
    processes are all four (`web`, `worker`, `web2`, `worker2`), and each socket opened
    goes to the next web process in turn, as a load balancer would spread them."""

    def __init__(self, root: Path, env: dict[str, str], backends):  # noqa: ANN001
        self.data_dir = root
        self.backends = backends
        self.parts = [Stack(data_dir=root / part, extra_env=env, backends=backends) for part in ("a", "b")]
        self._turn = 0

    @property
    def processes(self) -> dict:
        return {
            f"{name}{'2' if i else ''}": p for i, part in enumerate(self.parts) for name, p in part.processes.items()
        }

    @property
    def database_url(self) -> str:
        return self.backends.database_url

    @property
    def base_url(self) -> str:
        return self.parts[0].base_url

    @property
    def ws_base(self) -> str:
        self._turn += 1
        return self.parts[self._turn % 2].ws_base

    def start_all(self, timeout: float) -> None:
        for part in self.parts:
            part.start_all(timeout)

    def send_signal(self, name: str, signum: int) -> None:
        part = self.parts[1 if name.endswith("2") else 0]
        part.send_signal(name.rstrip("2"), signum)

    def stop_all(self) -> None:
        for part in self.parts:
            part.stop_all()

    def all_logs(self) -> str:
        return "\n".join(part.all_logs() for part in self.parts)


class ReferenceStack:
    """bench/reference_server.py as a stack: one process, metered as `web`, on its own
    SQLite folder, its model the mock's pure functions paced as `pacing` says."""

    def __init__(self, data_dir: Path, pacing: Pacing):
        self.data_dir = data_dir
        self.pacing = pacing
        self.port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'chattrain.db').resolve()}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "reference.log"

    def start_all(self, timeout: float) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pacing = self.pacing
        with open(self.log_path, "ab") as log:
            self.processes["web"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.reference_server",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *pacing.pace_arguments(),
                ],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_listening(self.processes["web"], self.port, timeout, self.log_path)

    def send_signal(self, name: str, signum: int) -> None:
        self.processes[name].send_signal(signum)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                stop_group(process, 10)

    def all_logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_listening(process: subprocess.Popen, port: int, timeout: float, log_path: Path) -> None:
    """Until `process` accepts connections on `port` (it has migrated its database by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log_path.stem} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{log_path.stem} not listening after {timeout:g} s")


@contextlib.contextmanager
def running_stack(
    root: Path, name: str, env: dict[str, str], layout: str = "sqlite", pacing: Pacing | None = None
) -> Iterator[Stack]:
    """A stack started for one row. On the way out its processes are told to stop at once,
    and waited for in the background (Hypercorn takes a second to shut down) while the
    next row's stack starts; that one is yielded once they are gone. `pacing` is the
    reference's model (the others' is in `env`); None, unpaced."""
    with contextlib.ExitStack() as backends_scope:
        if layout == "scaled":
            backends = backends_scope.enter_context(backends_for("postgresql+redis"))
            stack = ScaledStack(root / name, {**BENCH_ENV, **env}, backends)
        elif layout == REFERENCE:
            stack = ReferenceStack(root / name, pacing or Pacing(0, 0, 12))
        else:
            stack = Stack(data_dir=root / name, extra_env={**BENCH_ENV, **env})
        with _started(stack, name) as started:
            yield started
        if layout == "scaled":
            wait_stopped()  # before its database is dropped


@contextlib.contextmanager
def _started(stack, name: str):  # noqa: ANN001, ANN202
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
    """The worker's mock LLM paced as `pacing` says (it never stalls: case r3 runs on the
    fake server, which does)."""
    env = {
        "CHATTRAIN_LLM_PROVIDER": "mock",
        "CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": str(int(pacing.first_chunk_ms)),
        "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": f"{pacing.chunks_per_second:g}",
        "CHATTRAIN_MOCK_LLM_CHUNK_CHARS": str(pacing.chunk_chars),
    }
    return env


class FakeLLMProcess:
    """bench/fake_llm.py in a process of its own (so its CPU is measured apart and it does
    not share this client's event loop), logging to `log_path`."""

    def __init__(self, pacing: Pacing, log_path: Path):
        self.port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.fake_llm",
                    "--port",
                    str(self.port),
                    *pacing.pace_arguments(),
                    "--stall-ms",
                    f"{pacing.stall_ms:g}",
                    "--stall-marker",
                    pacing.stall_marker,
                ],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_listening(self.process, self.port, 15.0, log_path)
        except TimeoutError:
            self.stop()
            raise

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

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
def model_stack(
    root: Path, name: str, model: str, pacing: Pacing, env: dict[str, str] | None = None, layout: str = "sqlite"
) -> Iterator[ModelStack]:
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
        with running_stack(root, name, env, layout, pacing) as stack:
            yield ModelStack(stack, StackMeter(stack, fake.process.pid if fake else None), model, fake)
    finally:
        if fake is not None:
            fake.stop()
