"""Start the real processes the way the Procfile does: the Procfile's own command lines,
run by a shell, with the data folder and port of the test's choosing."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.client import bearer_headers
from tests.support.servers import Backends

REPO_ROOT = Path(__file__).resolve().parents[2]
# The trainer whose token reads /api/health's details (anonymous callers get liveness only).
MONITOR_USER_ID = "stack-monitor"


def procfile_commands(path: Path = REPO_ROOT / "Procfile") -> dict[str, str]:
    commands = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """A running web + worker pair on a temporary data folder."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    backends: Backends = field(default_factory=lambda: Backends("sqlite"))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    _token: str | None = None
    _monitor_token: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.backends.database_url or f"sqlite:///{(self.data_dir / 'chattrain.db').resolve()}"

    def folder_of(self, name: str) -> Path:
        """The data folder of one process: the stack's own on SQLite (shared), else a
        folder per process, as on separate hosts."""
        return self.data_dir if self.backends.shared_folder else self.data_dir / name

    def rows(self, sql: str, **params: object) -> list[tuple]:
        """Run one SQL statement on the stack's database and return its rows."""
        from sqlalchemy import text

        from shared.db.engine import create_sync_engine

        engine = create_sync_engine(self.database_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def cli_env(self) -> dict[str, str]:
        """The environment for `chattrain` commands against this stack's data."""
        return {**os.environ, **self.env(), "CHATTRAIN_DATA_DIR": str(self.folder_of("cli"))}

    def env(self, name: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTRAIN_")}
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env.update(self.backends.env())
        env.update(
            CHATTRAIN_DATA_DIR=str(self.folder_of(name) if name else self.data_dir),
            CHATTRAIN_SCENARIOS_DIR=str(REPO_ROOT / "scenarios"),
            CHATTRAIN_HOST="127.0.0.1",
            CHATTRAIN_SECRET_KEY="test-only-secret-key",
            PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, name: str) -> subprocess.Popen:
        command = procfile_commands()[name]
        log_path = self.data_dir / f"{name}.log"
        self.folder_of(name).mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "ab")
        process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            cwd=REPO_ROOT,
            env=self.env(name),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        self.logs[name] = log_path
        return process

    def start_all(self, timeout: float = 30.0) -> Stack:
        """Start both processes and wait until healthy; on failure, stop whatever started
        (a process left running would outlive the test and its folder)."""
        try:
            if not self.backends.shared_folder:
                self.migrate()
            self.start("worker")
            self.start("web")
            self.wait_healthy(timeout)
        except BaseException:
            self.stop_all()
            raise
        return self

    def wait_healthy(self, timeout: float = 30.0, *, need_worker: bool = True) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_text(name)[-3000:]}")
            try:
                # Anonymous liveness first: the web process answers once it has migrated
                # the database, so the monitor's user can be created.
                last = httpx.get(f"{self.base_url}/api/health", timeout=2).json()
                last = self.health(timeout=2)
                if not need_worker or last["worker"]["alive"]:
                    return last
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"stack not healthy after {timeout}s: {last}\n{self.all_logs()[-4000:]}")

    def migrate(self) -> None:
        """`chattrain db upgrade`, as a release step before the processes start (what a
        deployment across hosts does; each process would also migrate at start-up)."""
        chattrain = Path(sys.executable).parent / "chattrain"
        subprocess.run(
            [str(chattrain), "db", "upgrade"],
            cwd=REPO_ROOT,
            env=self.cli_env(),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def worker_pid(self) -> int | None:
        process = self.processes.get("worker")
        return process.pid if process is not None and process.poll() is None else None

    def health(self, timeout: float = 5.0) -> dict:
        """The whole /api/health document, read with the monitor's token."""
        return httpx.get(
            f"{self.base_url}/api/health", headers=bearer_headers(self.monitor_token), timeout=timeout
        ).json()

    @property
    def monitor_token(self) -> str:
        """A trainer's token for reading health (created on first use, after start)."""
        if self._monitor_token is None:
            # One per stack: several stacks may share a database (the scaled layout).
            self._monitor_token = self.create_user("trainer", f"{MONITOR_USER_ID}-{self.port}")
        return self._monitor_token

    def create_user(self, role: str = "trainee", user_id: str | None = None) -> str:
        """Create a user in the stack's database (after start: the web process migrated
        it) and return their token."""
        from shared.db.engine import BEGIN_MODE, create_sync_engine
        from shared.db.users import insert_user

        user_id = (
            user_id or f"{role}-{len([uid for uid in self._user_ids() if not uid.startswith(MONITOR_USER_ID)]) + 1}"
        )
        engine = create_sync_engine(self.database_url)
        try:
            with engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}).begin() as conn:
                return insert_user(conn, user_id=user_id, role=role)
        finally:
            engine.dispose()

    def _user_ids(self) -> list[str]:
        from shared.db.engine import create_sync_engine
        from shared.db.users import select_users

        engine = create_sync_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [user["id"] for user in select_users(conn)]
        finally:
            engine.dispose()

    @property
    def token(self) -> str:
        """A trainee's token, the user created on first use: what most tests need."""
        if self._token is None:
            self._token = self.create_user("trainee")
        return self._token

    def send_signal(self, name: str, signum: int) -> None:
        process = self.processes[name]
        os.killpg(process.pid, signum)

    def stop(self, name: str, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        process = self.processes[name]
        if process.poll() is None:
            stop_group(process, timeout, signum)
        return process.returncode

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def log_text(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log_text(name)}" for name in self.logs)

    def __repr__(self) -> str:  # used in failure output
        return f"Stack(port={self.port}, data_dir={self.data_dir}, commands={shlex.join(self.processes)})"


@contextmanager
def started_stack(data_dir: Path, backends: Backends | None = None, **extra_env: str) -> Iterator[Stack]:
    """A healthy web + worker pair with these CHATTRAIN_* variables, stopped on exit."""
    stack = Stack(data_dir=data_dir, extra_env=extra_env, backends=backends or Backends("sqlite"))
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


def run_entry_point(command: str, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run one entry point (a Procfile line, a `chattrain` command) to its end, as a shell
    runs it, on a data folder under tmp_path, with these variables over a working set."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
    base["PATH"] = str(Path(sys.executable).parent) + os.pathsep + base.get("PATH", "")
    base.update(
        CHATTRAIN_DATA_DIR=str(tmp_path / "data"),
        CHATTRAIN_SCENARIOS_DIR=str(REPO_ROOT / "scenarios"),
        CHATTRAIN_SECRET_KEY="test-only-secret-key",
        PORT="1",  # never reached: start-up stops first
    )
    base.update(env)
    return subprocess.run(
        ["/bin/sh", "-c", f"exec {command}"], cwd=REPO_ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def start_make_run(data_dir: Path, port: int, *, text: bool = False) -> subprocess.Popen:
    """`make run` as a newcomer types it, on this data folder and port and no other
    configuration, in its own process group; output on the process's stdout."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
    env.update(CHATTRAIN_DATA_DIR=str(data_dir), CHATTRAIN_SCENARIOS_DIR=str(REPO_ROOT / "scenarios"))
    venv = os.path.relpath(Path(sys.executable).parent.parent, REPO_ROOT)  # the Makefile's VENV is relative
    return subprocess.Popen(
        ["make", "--no-print-directory", "run", f"VENV={venv}", f"PORT={port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=text,
        start_new_session=True,
    )


def stop_group(process: subprocess.Popen, timeout: float = 15.0, signum: int = signal.SIGTERM) -> None:
    """Signal a process group started with start_new_session (SIGTERM), then SIGKILL what
    is left after `timeout`."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
