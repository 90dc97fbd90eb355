"""GET /api/health: what an operator needs at a glance."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from quart import Blueprint, current_app
from quart_schema import validate_response

from shared.clock import utc_now_iso
from shared.db.jobs import count_open_reply_jobs
from shared.db.usage import select_provider_status
from shared.db.workers import select_last_worker_seen
from shared.llm_accounting import provider_health
from web.models import Health

blueprint = Blueprint("health", __name__)

VERSION = "1.0.0"


@blueprint.get("/api/health")
@validate_response(Health, 200)
async def get_health() -> Health:
    """Report whether the service, its database, its queue, its workers and its LLM provider are healthy."""
    app = current_app
    settings = app.config["CHATTRAIN_SETTINGS"]
    reachable, open_replies, last_seen, provider_status = True, None, None, None
    try:
        open_replies = await app.db.read(count_open_reply_jobs)
        last_seen = await app.db.read(select_last_worker_seen)
        provider_status = await app.db.read(select_provider_status, settings.llm_provider)
    except Exception:
        reachable = False
    try:
        # On a thread: the queue's connection may be busy with a handed-off enqueue.
        depth = await asyncio.to_thread(app.reply_queue.pending_count)
    except Exception:
        depth = None
    since = None if last_seen is None else max(0.0, time.time() - last_seen)
    # A worker heartbeats every sweep interval; three missed beats means it is gone.
    alive = since is not None and since <= settings.sweep_interval_seconds * 3 + 5
    llm = provider_health(provider_status)
    # A provider whose last call failed makes the service degraded until a call succeeds.
    healthy = reachable and alive and depth is not None and llm["last_call_ok"] is not False
    return Health(
        status="healthy" if healthy else "degraded",
        timestamp=utc_now_iso(),
        version=VERSION,
        database={"reachable": reachable},
        queue={"depth": depth, "open_replies": open_replies},
        worker={
            "last_seen_at": None
            if last_seen is None
            else datetime.fromtimestamp(last_seen, timezone.utc).isoformat(timespec="milliseconds"),
            "seconds_since_seen": None if since is None else round(since, 1),
            "alive": alive,
        },
        llm={"provider": settings.llm_provider, **llm},
        scenarios_loaded=len(app.catalog.by_id),
        scenario_errors=[str(error) for error in app.catalog.errors],
    )
