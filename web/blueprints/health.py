"""GET /api/health: what an operator needs at a glance.

Anyone may ask whether the web process is up (a load balancer, an uptime check). The
verdict and the details (worker timing, queue depth, the model's last error) describe
the service's load and failures, so they need a token, any user's."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from quart import Blueprint, current_app, g
from quart_schema import validate_response

from shared.db.dbclock import select_now
from shared.db.engine import is_sqlite
from shared.db.jobs import count_open_reply_jobs, select_oldest_queued_at, select_queue_waits
from shared.db.usage import select_provider_status
from shared.db.workers import (
    heartbeat_window_seconds,
    select_last_worker_seen,
    select_live_workers,
    select_model_calls,
)
from shared.lib.clock import utc_now_iso
from shared.llm.accounting import provider_health
from web.auth import optional_user
from web.models import Health, HealthAnswer, Liveness, QueueWait

blueprint = Blueprint("health", __name__)

VERSION = "1.0.0"


@blueprint.get("/api/health")
@optional_user
@validate_response(HealthAnswer, 200)
async def get_health() -> Health | Liveness:
    """Say whether the service is up; with a token, how its database, queue, workers, wake-ups and LLM provider are doing."""
    if g.user is None:
        return Liveness(status="ok", timestamp=utc_now_iso())
    app = current_app
    settings = app.config["CHATTRAIN_SETTINGS"]
    reachable, open_replies, last_seen, provider_status = True, None, None, None
    oldest_queued_at, waits, model_calls = None, None, (None, None)
    now = time.time()
    live_within = heartbeat_window_seconds(settings.sweep_interval_seconds)
    live = (None, None)
    database_latency_ms = None
    try:
        started = time.perf_counter()
        open_replies = await app.db.read(count_open_reply_jobs)
        database_latency_ms = round((time.perf_counter() - started) * 1000, 2)
        # Heartbeats and enqueue times are stamped by the database's clock on PostgreSQL
        # (written on other hosts): compare them with that clock, not this host's.
        now = await app.db.read(select_now, now)
        last_seen = await app.db.read(select_last_worker_seen)
        live = await app.db.read(select_live_workers, seen_since=now - live_within)
        provider_status = await app.db.read(select_provider_status, settings.llm_provider)
        oldest_queued_at = await app.db.read(select_oldest_queued_at)
        waits = await app.db.read(select_queue_waits, since=now - 60)
        model_calls = await app.db.read(select_model_calls, seen_since=now - live_within)
    except Exception:
        reachable = False
    try:
        # On a thread: the queue's connection may be busy with a handed-off enqueue, and
        # Redis is another host.
        depth, queue_latency_ms = await asyncio.to_thread(app.reply_queue.depth_and_latency)
    except Exception:
        depth, queue_latency_ms = None, None
    since = None if last_seen is None else max(0.0, now - last_seen)
    alive = since is not None and since <= live_within
    llm = provider_health(provider_status)
    # A provider whose last call failed makes the service degraded until a call succeeds.
    healthy = reachable and alive and depth is not None and llm["last_call_ok"] is not False
    return Health(
        status="healthy" if healthy else "degraded",
        timestamp=utc_now_iso(),
        version=VERSION,
        database={
            "reachable": reachable,
            "backend": "sqlite" if is_sqlite(settings.resolved_database_url) else "postgresql",
            "latency_ms": database_latency_ms,
        },
        queue={
            "backend": app.reply_queue.backend,
            "reachable": depth is not None,
            "latency_ms": None if queue_latency_ms is None else round(queue_latency_ms, 2),
            "depth": depth,
            "open_replies": open_replies,
            "oldest_queued_seconds": None if oldest_queued_at is None else round(max(0.0, now - oldest_queued_at), 1),
            "wait": None if waits is None else _queue_wait(waits),
        },
        worker={
            "last_seen_at": None
            if last_seen is None
            else datetime.fromtimestamp(last_seen, UTC).isoformat(timespec="milliseconds"),
            "seconds_since_seen": None if since is None else round(since, 1),
            "alive": alive,
            "live_workers": live[0],
            "live_hosts": live[1],
            "model_calls": model_calls[0],
            "model_calls_waiting": model_calls[1],
        },
        wakeups={"backend": app.tailer.wakeups.name, "listening": app.tailer.wakeups.listening},
        llm={"provider": settings.llm_provider, **llm},
        scenarios_loaded=len(app.catalog.by_id),
        scenario_errors=[str(error) for error in app.catalog.errors],
    )


def _queue_wait(waits: list[float]) -> QueueWait:
    """Median and 99th percentile (nearest rank) of queue waits given in seconds."""
    if not waits:
        return QueueWait(replies=0, p50_ms=None, p99_ms=None)
    ordered = sorted(waits)

    def rank(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)

    return QueueWait(replies=len(ordered), p50_ms=rank(0.5), p99_ms=rank(0.99))
