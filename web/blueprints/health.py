"""GET /api/health: what an operator needs at a glance."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from quart import Blueprint, current_app
from quart_schema import validate_response

from shared.clock import utc_now_iso
from shared.db.jobs import count_open_reply_jobs
from shared.db.workers import select_last_worker_seen
from web.models import Health

blueprint = Blueprint("health", __name__)

VERSION = "1.0.0"


@blueprint.get("/api/health")
@validate_response(Health, 200)
async def get_health() -> Health:
    """Report whether the service, its database, its queue and its workers are healthy."""
    app = current_app
    settings = app.config["CHATTRAIN_SETTINGS"]
    reachable, open_replies, last_seen = True, None, None
    try:
        open_replies = await app.db.read(count_open_reply_jobs)
        last_seen = await app.db.read(select_last_worker_seen)
    except Exception:
        reachable = False
    try:
        depth = app.reply_queue.pending_count()
    except Exception:
        depth = None
    since = None if last_seen is None else max(0.0, time.time() - last_seen)
    # A worker heartbeats every sweep interval; three missed beats means it is gone.
    alive = since is not None and since <= settings.sweep_interval_seconds * 3 + 5
    healthy = reachable and alive and depth is not None
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
        llm={"provider": settings.llm_provider},
        scenarios_loaded=len(app.catalog.by_id),
        scenario_errors=[str(error) for error in app.catalog.errors],
    )
