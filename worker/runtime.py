"""What a worker process holds for its whole life: the engine, the scenarios, the LLM
provider and its slots, the doorbell to the web processes. Created once, on first use,
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Connection, Engine

from shared.clock import utc_now_iso
from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.scenario_rows import select_scenario_ids
from shared.doorbell import FoldingRinger, Ringer
from shared.llm import LLMProvider, create_provider
from shared.masking_policy import MaskingPolicy
from shared.scenarios import Scenario, load_scenarios
from shared.settings import Settings
from worker.model_slots import ModelSlots
from worker.typing import TypingIndicator

log = logging.getLogger("chattrain.worker")

WEB_ROLE = "web"


@dataclass
class WorkerRuntime:
    settings: Settings

    def __post_init__(self) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.started_at = utc_now_iso()
        self._web_ringer = FoldingRinger(Ringer(self.settings.doorbell_dir, WEB_ROLE))
        self.model_slots = ModelSlots(self.settings.llm_max_concurrent_requests)
        self._write_turn = threading.Lock()
        self._writer: Connection | None = None
        self.typing = TypingIndicator(
            self.write_engine,
            self.ring_web,
            self.settings.stream_batch_ms / 1000,
            lease_seconds=self.settings.reply_lease_seconds,
        )

    @cached_property
    def engine(self) -> Engine:
        # Enough connections that greenlets reading at once rarely overflow the pool: an
        # overflow connection is opened, set up and closed for one transaction.
        return create_sync_engine(self.settings.resolved_database_url, pool_size=16, max_overflow=32)

    @cached_property
    def scenarios(self) -> dict[str, Scenario]:
        loaded, errors = load_scenarios(self.settings.scenarios_dir)
        for error in errors:
            log.error("scenario not loaded: %s", error)
        return {scenario.slug: scenario for scenario in loaded}

    @cached_property
    def provider(self) -> LLMProvider:
        return create_provider(self.settings)

    @cached_property
    def masking(self) -> MaskingPolicy:
        return MaskingPolicy(enabled=self.settings.masking == "on", secret=self.settings.secret_key.encode())

    @cached_property
    def write_engine(self) -> Engine:
        """The engine with BEGIN IMMEDIATE: use for every read-then-write transaction."""
        return self.engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE) on the process's writing connection,
        committed on success. SQLite takes one writer at a time anyway, so the process's
        reply writers take turns for one connection rather than each holding a pooled
        one while they wait (at r2, opening and closing overflow connections for waiting
        writers was a sixth of the worker's CPU)."""
        with self._write_turn:
            if self._writer is None:
                self._writer = self.engine.connect()
                self._writer.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            with self._writer.begin():
                yield self._writer

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction on a pooled connection."""
        with self.engine.connect() as conn:
            yield conn

    @cached_property
    def scenario_slugs(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            return {scenario_id: slug for slug, scenario_id in select_scenario_ids(conn).items()}

    def scenario_for(self, scenario_id: int) -> Scenario:
        slug = self.scenario_slugs.get(scenario_id)
        if slug is None:  # a scenario added since this worker started
            self.__dict__.pop("scenario_slugs", None)
            slug = self.scenario_slugs[scenario_id]
        return self.scenarios[slug]

    def ring_web(self) -> None:
        """Tell the web processes that new events are in the database."""
        self._web_ringer.ring()

_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> WorkerRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from worker.huey_app import settings

            # Either process may start first; migrations are safe to run from both.
            upgrade_to_head(settings.resolved_database_url)
            _runtime = WorkerRuntime(settings)
        return _runtime
