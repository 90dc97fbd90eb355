"""What a worker process holds for its whole life: the engine, the scenario catalog, the LLM
provider and its slots, the waker that wakes the web processes. Created once, on first use,
by whichever worker (greenlet or thread) gets there first.

Connections come from the engine's pool rather than one per worker: the consumer runs
hundreds of greenlets, and a transaction never waits on the model, so a few connections
serve them all."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from sqlalchemy import Connection, Engine

from shared.db.engine import BEGIN_MODE, create_sync_engine, is_unreachable, shown_url
from shared.db.grouped_writes import GroupedWriter
from shared.db.migrate import upgrade_to_head
from shared.db.scenario_rows import select_scenario_ids
from shared.lib.clock import utc_now_iso
from shared.lib.outages import Outage
from shared.llm import LLMProvider, create_provider
from shared.masking.policy import MaskingPolicy, masking_policy
from shared.scenarios import Scenario
from shared.scenarios.catalog import ScenarioCatalog
from shared.settings import Settings
from shared.wakeups.channels import create_waker
from worker.delayed_writes import DelayedWrites
from worker.streaming import ModelSlots

log = logging.getLogger("chattrain.worker")


T = TypeVar("T")


@dataclass
class WorkerRuntime:
    settings: Settings

    def __post_init__(self) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.started_at = utc_now_iso()
        self._web_waker = create_waker(self.settings)
        self.model_slots = ModelSlots(self.settings.llm_max_concurrent_requests)
        self._writer = GroupedWriter(self._connect_writer)
        # Whether the database answers, as this process last found it: an outage is
        # logged once, then reminded of, not once per failed step (shared/lib/outages.py).
        self.database_outage = Outage(log, f"the database {shown_url(self.settings.resolved_database_url)}")
        # A reply's `typing`, written only once it has sent nothing for one batch
        # interval (worker/streaming.py).
        self.delayed_writes = DelayedWrites(
            self.write, self.wake_web, self.settings.stream_batch_ms / 1000, note_failure=self.note_failure
        )

    @cached_property
    def engine(self) -> Engine:
        # Enough connections that greenlets reading at once rarely overflow the pool: an
        # overflow connection is opened, set up and closed for one transaction.
        return create_sync_engine(self.settings.resolved_database_url, pool_size=16, max_overflow=32)

    @cached_property
    def catalog(self) -> ScenarioCatalog:
        """The scenarios, numbered as the web process stored them (scenario_for)."""
        return ScenarioCatalog.from_folder(self.settings.scenarios_dir)

    @cached_property
    def provider(self) -> LLMProvider:
        return create_provider(self.settings)

    @cached_property
    def masking(self) -> MaskingPolicy:
        return masking_policy(self.settings)

    @cached_property
    def write_engine(self) -> Engine:
        """The engine with BEGIN IMMEDIATE, for a transaction outside the worker's own
        writes (a test seeding its data); the worker writes through write()."""
        return self.engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})

    def write(self, fn: Callable[[Connection], T], *, lock_sessions: Iterable[int] = ()) -> T:
        """Run `fn(conn)` in a write transaction (BEGIN IMMEDIATE) and return its result
        once committed: the one way the worker writes (replies, typing, reports,
        maintenance, usage records). The process's writers share one connection and commit together
        when several are ready at once (shared/db/grouped_writes.py): under load a reply's
        deltas were each a transaction of their own, and waiting writers each held a
        pooled connection, so the pool kept opening and closing overflow connections, at a
        real cost in the worker's CPU (docs/performance.md, Design measurements).
        `lock_sessions`: the sessions `fn` writes to, locked in id order with the rest of
        the group's before any write runs (PostgreSQL). `fn` may run more than once (a
        group rolled back by a deadlock runs again)."""
        return self._writer.write(fn, lock_sessions=lock_sessions)

    def _connect_writer(self) -> Connection:
        conn = self.engine.connect()
        conn.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        return conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction on a pooled connection."""
        with self.engine.connect() as conn:
            yield conn

    def scenario_for(self, scenario_id: int) -> Scenario:
        """The scenario with this id (KeyError for one this process has no folder of)."""
        scenario = self.catalog.by_id.get(scenario_id)
        if scenario is None and scenario_id not in self.catalog.stored_ids:
            # Stored since this worker last read the ids (or it never read them); an id
            # it has read but has no folder of is not read again at every call.
            with self.engine.connect() as conn:
                self.catalog.number(select_scenario_ids(conn))
            scenario = self.catalog.by_id.get(scenario_id)
        if scenario is None:
            raise KeyError(scenario_id)
        return scenario

    def note_failure(self, error: BaseException, what: str, *args: object) -> None:
        """Log a step that failed (call from an `except` block): a database or queue that
        cannot be reached counts towards its outage's few lines; anything else is logged
        with its traceback, `what % args` saying which step."""
        outage = self._outage_of(error)
        if outage is not None:
            outage.failed(error)
        else:
            log.exception(what, *args)

    def _outage_of(self, error: BaseException) -> Outage | None:
        if is_unreachable(error):
            return self.database_outage
        if _is_redis_unreachable(error):
            from worker.huey_app import huey

            return getattr(huey.storage, "outage", None)
        return None

    def wake_web(self) -> None:
        """Wake the web processes: new events are in the database (once per write
        transaction; shared/wakeups/channels.py folds them)."""
        self._web_waker.wake()


def _is_redis_unreachable(error: BaseException) -> bool:
    # redis-py is the redis extra: on a SQLite-only install no error comes from Redis.
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        return False
    return isinstance(error, (RedisConnectionError, RedisTimeoutError))


_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> WorkerRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from worker.huey_app import configured_settings

            settings = configured_settings()
            # Either process may start first; migrations are safe to run from both.
            upgrade_to_head(settings.resolved_database_url)
            _runtime = WorkerRuntime(settings)
        return _runtime
