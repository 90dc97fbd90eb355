"""Redis for the tests, and the backends a stack runs on. Redis: the machine's own on
loopback when it answers, else a private `redis-server` on a free port for the test
session; tests isolate themselves with a throwaway key prefix, and a test that restarts
Redis starts its own (`private_redis`). PostgreSQL comes from tests/support/postgres.py
(a throwaway database per test)."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import server_url, throwaway_database, unavailable_reason

MACHINE_REDIS = ("127.0.0.1", 6379)


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    """A redis-server process of our own on a free port, without persistence."""

    port: int
    folder: Path
    password: str = ""
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{':' + self.password + '@' if self.password else ''}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--protected-mode",
                "yes",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers(("127.0.0.1", self.port)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (data lost: no persistence) and start again on the same port."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


_session_redis: RedisServer | None = None


def redis_url() -> str:
    """A Redis to use for this test session (shared: isolate with `unique_prefix`)."""
    global _session_redis
    if os.environ.get("CHATTRAIN_TEST_REDIS_URL"):
        return os.environ["CHATTRAIN_TEST_REDIS_URL"]
    if _answers(MACHINE_REDIS):
        return "redis://127.0.0.1:6379/0"
    if _session_redis is None:
        _session_redis = RedisServer(_free_port(), Path(tempfile.mkdtemp(prefix="chattrain-redis-"))).start()
        atexit.register(_session_redis.stop)
    return _session_redis.url


def postgres_url(database: str = "postgres") -> str:
    """A database URL on the PostgreSQL server of this test session
    (tests/support/postgres.py: the machine's, else a private one)."""
    server = server_url()
    if server is None:
        raise RuntimeError(f"no PostgreSQL server for the tests: {unavailable_reason()}")
    return f"{server}/{database}"


def unique_prefix() -> str:
    """A Redis key prefix (and notification channel) no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


def delete_prefixed_keys(url: str, prefix: str) -> None:
    """Remove what a test left in Redis under its prefix."""
    from redis import Redis

    client = Redis.from_url(url)
    try:
        keys = [key for pattern in (f"*{prefix}*",) for key in client.scan_iter(match=pattern, count=1000)]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def private_redis(folder: Path, password: str = ""):
    """A redis-server of the test's own, for tests that restart it (or need a password)."""
    server = RedisServer(_free_port(), folder, password).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Backends:
    """Where a stack keeps its data and its queue. `sqlite`: both in the data folder,
    shared by web and worker (the default install). `postgresql+redis`: the data on a
    throwaway PostgreSQL database and the queue on Redis under a throwaway prefix, and
    each process gets a data folder of its own, as on separate hosts."""

    name: str
    database_url: str = ""
    queue_url: str = ""
    redis_key_prefix: str = ""

    @property
    def shared_folder(self) -> bool:
        return not self.database_url

    def env(self) -> dict[str, str]:
        env = {}
        if self.database_url:
            env["CHATTRAIN_DATABASE_URL"] = self.database_url
        if self.queue_url:
            env["CHATTRAIN_QUEUE_URL"] = self.queue_url
            env["CHATTRAIN_REDIS_KEY_PREFIX"] = self.redis_key_prefix
        return env


# The configurations the e2e suite's main tests run on (tests/conftest.py parametrizes
# them); CHATTRAIN_TEST_CONFIGURATIONS picks others, e.g. `sqlite+redis` (the queue on
# Redis, the data in SQLite).
CONFIGURATIONS = tuple(os.environ.get("CHATTRAIN_TEST_CONFIGURATIONS", "sqlite,postgresql+redis").split(","))

# The configurations whose queue is on Redis.
REDIS_CONFIGURATIONS = tuple(name for name in CONFIGURATIONS if "redis" in name) or ("sqlite+redis",)


@contextmanager
def backends_for(name: str, queue_url: str | None = None):
    """The backends of one configuration, created for one test and removed after it."""
    if name == "sqlite":
        yield Backends(name)
        return
    prefix = unique_prefix()
    url = queue_url or redis_url()
    try:
        if name == "sqlite+redis":
            yield Backends(name, queue_url=url, redis_key_prefix=prefix)
        else:
            with throwaway_database(postgres_url().rsplit("/", 1)[0]) as database_url:
                yield Backends(name, database_url=database_url, queue_url=url, redis_key_prefix=prefix)
    finally:
        try:
            delete_prefixed_keys(url, prefix)
        except Exception:  # a test that stopped its own Redis has nothing left to clean
            pass
