"""GET /metrics: Prometheus's view of the service (web/metrics.py lists what it reports).

Guarded by a token of its own, CHATTRAIN_METRICS_TOKEN, sent as `Authorization: Bearer
<token>` (Prometheus's `authorization` scrape setting): a scraper holds a secret that
opens the metrics and nothing else, where a user's token would open every transcript a
trainer may read. Without the setting the route answers 404, so a fresh install exposes
nothing. A second port was the other choice; it would need its own listener in each web
process and its own opening in every proxy and container, for the same protection."""

from __future__ import annotations

import hmac

from quart import Blueprint, current_app, request
from quart_schema import hide

from web.auth import AUTH_ATTRIBUTE, unauthorized_error
from web.errors import ApiError
from web.metrics import render

blueprint = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# For the policy test that walks the URL map (tests/web/test_authorization.py): guarded,
# by the metrics token rather than a user's.
METRICS_TOKEN_AUTH = "metrics-token"


@blueprint.get("/metrics")
@hide
async def get_metrics():  # noqa: ANN201
    """The service's metrics in Prometheus's text format, for a scraper holding the
    metrics token."""
    expected = current_app.config["CHATTRAIN_SETTINGS"].metrics_token
    if not expected:
        raise ApiError(404, "not_found", "Metrics are off: set CHATTRAIN_METRICS_TOKEN to turn them on.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise unauthorized_error("Send the metrics token: 'Authorization: Bearer <CHATTRAIN_METRICS_TOKEN>'.")
    snapshot = await current_app.metrics.snapshot()
    return render(snapshot), 200, {"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}


setattr(get_metrics, AUTH_ATTRIBUTE, METRICS_TOKEN_AUTH)
