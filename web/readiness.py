"""Whether this web process can serve trainees now (GET /readyz): the database answers a
read, the queue answers, and at least one worker has sent a heartbeat recently.

Each check is bounded (web/bounded_calls.py): `CHECK_TIMEOUT_SECONDS` each, run off the
event loop and side by side, so a server that hangs makes /readyz answer 503 within that
time instead of hanging the probe. The verdict is kept for `CACHE_SECONDS`, and probes
arriving while one evaluation runs share it: however many load balancers and
orchestrators ask, a web process checks at most about once a second."""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel

from shared.db.workers import count_live_workers, heartbeat_window_seconds
from shared.settings import Settings
from web.bounded_calls import BoundedCall, CallFailed
from web.database import Database
from web.reply_queue import ReplyQueue

CHECK_TIMEOUT_SECONDS = 2.0
CACHE_SECONDS = 1.0


class ReadinessCheck(BaseModel):
    ok: bool | None  # None: not checked, because what it depends on failed
    detail: str | None = None
    latency_ms: float | None = None


class Readiness(BaseModel):
    """The verdict: `ready` (HTTP 200) or `unready` (HTTP 503), each check's outcome, and
    the names of the checks that failed."""

    status: str
    checks: dict[str, ReadinessCheck]
    failed: list[str]


class Liveness(BaseModel):
    status: str


class ReadinessProbe:
    def __init__(self, db: Database, reply_queue: ReplyQueue, settings: Settings):
        self._db = db
        self._queue = reply_queue
        self._window_seconds = heartbeat_window_seconds(settings.sweep_interval_seconds)
        self._database_call = BoundedCall("database", CHECK_TIMEOUT_SECONDS)
        self._queue_call = BoundedCall("queue", CHECK_TIMEOUT_SECONDS)
        self._verdict: Readiness | None = None
        self._verdict_at = 0.0
        self._evaluating: asyncio.Task | None = None

    async def verdict(self) -> Readiness:
        """The latest verdict, evaluated again when older than `CACHE_SECONDS`."""
        if self._verdict is not None and time.monotonic() - self._verdict_at < CACHE_SECONDS:
            return self._verdict
        if self._evaluating is None:
            self._evaluating = asyncio.create_task(self._evaluate(), name="readiness")
        # Shielded: a prober that hangs up does not cancel the others' evaluation.
        return await asyncio.shield(self._evaluating)

    async def _evaluate(self) -> Readiness:
        try:
            (database, workers), queue = await asyncio.gather(self._check_database(), self._check_queue())
            checks = {"database": database, "queue": queue, "workers": workers}
            failed = [name for name, check in checks.items() if check.ok is not True]
            verdict = Readiness(status="unready" if failed else "ready", checks=checks, failed=failed)
            self._verdict, self._verdict_at = verdict, time.monotonic()
            return verdict
        finally:
            self._evaluating = None

    async def _check_database(self) -> tuple[ReadinessCheck, ReadinessCheck]:
        """One read answers both: the database (it answered) and the workers (how many
        heartbeats are recent enough)."""
        started = time.perf_counter()
        try:
            live = await self._database_call(
                lambda: self._db.read(count_live_workers, within_seconds=self._window_seconds, now=time.time())
            )
        except CallFailed as failure:
            return ReadinessCheck(ok=False, detail=str(failure)), ReadinessCheck(
                ok=None, detail="not checked: the database did not answer"
            )
        database = ReadinessCheck(ok=True, latency_ms=_ms_since(started))
        if live == 0:
            return database, ReadinessCheck(
                ok=False, detail=f"no worker has sent a heartbeat in the last {self._window_seconds:g} s"
            )
        return database, ReadinessCheck(ok=True, detail=f"{live} live")

    async def _check_queue(self) -> ReadinessCheck:
        started = time.perf_counter()
        try:
            await self._queue_call(lambda: asyncio.to_thread(self._queue.check))
        except CallFailed as failure:
            return ReadinessCheck(ok=False, detail=str(failure))
        return ReadinessCheck(ok=True, latency_ms=_ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
