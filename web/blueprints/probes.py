"""GET /livez and GET /readyz: the probes load balancers and orchestrators call.

Both are anonymous and say nothing a stranger could use (no addresses, no versions, no
counts beyond live workers). They are left out of the OpenAPI document, which describes
the API for its clients; docs/monitoring.md describes them for operators."""

from __future__ import annotations

from quart import Blueprint, current_app
from quart_schema import hide

from web.readiness import Liveness

blueprint = Blueprint("probes", __name__)

# Never cached by a proxy in front: a stale 200 would hide an outage.
NO_STORE = {"Cache-Control": "no-store"}


@blueprint.get("/livez")
@hide
async def get_livez():  # noqa: ANN201
    """The web process's event loop answers (no database read: restarting this process
    would not bring a database back)."""
    return Liveness(status="ok").model_dump(), 200, NO_STORE


@blueprint.get("/readyz")
@hide
async def get_readyz():  # noqa: ANN201
    """200 when the database answers, the queue answers and a worker has sent a heartbeat
    recently; 503 naming the checks that failed otherwise (web/readiness.py)."""
    verdict = await current_app.readiness.verdict()
    return verdict.model_dump(), 200 if verdict.status == "ready" else 503, NO_STORE
