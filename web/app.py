"""The Quart application: extensions, blueprints, error handlers, and the long-lived
objects (database, scenario catalogue, event tailer, queue) started in before_serving."""

from __future__ import annotations

import logging

from quart import Quart
from quart_schema import QuartSchema

from shared.db.checkpoint import checkpointer_for
from shared.db.limits import RateLimit
from shared.db.migrate import upgrade_to_head
from shared.db.workers import heartbeat_window_seconds
from shared.lib.gc_tuning import freeze_startup_objects
from shared.lib.logs import configure_logging
from shared.masking.policy import masking_policy
from shared.scenarios.catalog import ScenarioCatalog, upsert_catalog
from shared.settings import Settings
from web.address_limits import AddressFailures
from web.auth import SECURITY_SCHEMES, check_auth_mode
from web.blueprints import (
    account,
    apidocs,
    chat,
    documents,
    health,
    oidc,
    pages,
    people,
    reports,
    scenarios,
    sessions,
    sign_in,
    usage,
)
from web.blueprints.metrics import blueprint as metrics_blueprint
from web.blueprints.probes import blueprint as probes_blueprint
from web.cors import install_cors
from web.database import Database
from web.errors import register_error_handlers
from web.json_body import JsonBodyRequest
from web.metrics import MetricsGatherer
from web.oidc_client import OidcClient, oidc_config
from web.openapi import ChatTrainOpenAPIProvider
from web.readiness import ReadinessProbe
from web.reply_queue import ReplyQueue, configure_queue
from web.request_ids import install_request_ids
from web.revocation import CredentialWatch
from web.security import install_security_headers
from web.tailer import EventTailer
from web.url_converters import RowIdConverter
from web.ws_connection import LeanWebsocketConnection

log = logging.getLogger("chattrain.web")


def create_app(settings: Settings) -> Quart:
    configure_logging(settings.log_level, settings.log_format)
    check_auth_mode(settings)
    if settings.auth_mode == "insecure-dev":
        log.warning("CHATTRAIN_AUTH_MODE=insecure-dev: requests without a token are trusted (loopback only)")
    masking = masking_policy(settings)  # refuses to start without a key (shared/settings.py)
    oidc_settings = oidc_config(settings)  # None when OIDC sign-in is off; refuses a half-made one
    # No static folder: the API docs' assets (web/blueprints/apidocs.py) and the web app's
    # files (web/blueprints/pages.py) are served from folders of their own.
    app = Quart("chattrain", static_folder=None)
    app.asgi_websocket_class = LeanWebsocketConnection
    app.request_class = JsonBodyRequest
    app.config["CHATTRAIN_SETTINGS"] = settings
    configure_queue(settings)
    # Quart reads whole request bodies into memory: cap them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_frame_bytes
    # "//etc/passwd" must reach the document check (and 404), not redirect elsewhere.
    app.url_map.merge_slashes = False
    app.url_map.converters["int"] = RowIdConverter
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,  # served by web/blueprints/apidocs.py, without a CDN
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes=SECURITY_SCHEMES,
        info={"title": "ChatTrain API", "version": health.VERSION},
        openapi_provider_class=ChatTrainOpenAPIProvider,
    )
    install_cors(app, settings)
    install_security_headers(app)
    install_request_ids(app)
    register_error_handlers(app)
    # For operators (docs/monitoring.md): the probes, and the metrics.
    app.register_blueprint(probes_blueprint)
    app.register_blueprint(metrics_blueprint)
    for module in (
        health,
        account,
        scenarios,
        sessions,
        reports,
        usage,
        people,
        documents,
        chat,
        apidocs,
        sign_in,
        pages,
    ):
        app.register_blueprint(module.blueprint)
    if oidc_settings is not None:  # off: its addresses do not exist (404)
        app.register_blueprint(oidc.blueprint)

    @app.before_serving
    async def start_services() -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_to_head(settings.resolved_database_url)
        app.db = Database(settings.resolved_database_url)
        app.masking = masking
        app.catalog = ScenarioCatalog.from_folder(settings.scenarios_dir)
        await app.db.write(upsert_catalog, app.catalog)
        log.info("loaded %d scenario(s), %d error(s)", len(app.catalog.by_id), len(app.catalog.errors))
        app.reply_queue = ReplyQueue(settings)
        app.tailer = EventTailer(app.db, settings)
        await app.tailer.start()
        app.credential_watch = CredentialWatch(app.db)
        await app.credential_watch.start()
        # Counted in this process only (web/address_limits.py says why).
        app.sign_in_failures = AddressFailures(
            RateLimit(
                "wrong sign-in code", settings.sign_in_failures_per_window, settings.sign_in_failure_window_seconds
            )
        )
        # Probes and metrics read the database and the queue, each call bounded in time.
        app.readiness = ReadinessProbe(app.db, app.reply_queue, settings)
        app.metrics = MetricsGatherer(app, heartbeat_window_seconds(settings.sweep_interval_seconds))
        app.open_sockets = 0  # this process's chat sockets, for /metrics (web/blueprints/chat.py)
        app.checkpointer = checkpointer_for(settings)
        app.checkpointer.start()
        app.oidc = OidcClient(oidc_settings) if oidc_settings is not None else None
        freeze_startup_objects()

    @app.after_serving
    async def stop_services() -> None:
        await app.tailer.stop()
        await app.credential_watch.stop()
        app.checkpointer.stop()
        if app.oidc is not None:
            await app.oidc.aclose()
        app.reply_queue.close()
        await app.db.close()

    return app
