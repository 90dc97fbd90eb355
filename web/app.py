"""The Quart application: extensions, blueprints, error handlers, and the long-lived
objects (database, scenario catalogue, event tailer, queue) started in before_serving."""

from __future__ import annotations

from quart import Quart
from quart_schema import QuartSchema

from shared.db.migrate import upgrade_to_head
from shared.logs import configure_logging
from shared.masking_policy import MaskingPolicy
from shared.settings import Settings
from web.blueprints import chat, documents, health, scenarios, sessions
from web.catalog import load_catalog
from web.cors import install_cors
from web.database import Database
from web.errors import register_error_handlers
from web.reply_queue import ReplyQueue
from web.tailer import EventTailer


def create_app(settings: Settings) -> Quart:
    configure_logging(settings.log_level)
    app = Quart("chattrain")
    app.config["CHATTRAIN_SETTINGS"] = settings
    # Quart reads whole request bodies into memory: cap them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_frame_bytes
    # "//etc/passwd" must reach the document check (and 404), not redirect elsewhere.
    app.url_map.merge_slashes = False
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path="/redocs",
        info={"title": "ChatTrain API", "version": health.VERSION},
    )
    install_cors(app, settings)
    register_error_handlers(app)
    for module in (health, scenarios, sessions, documents, chat):
        app.register_blueprint(module.blueprint)

    @app.before_serving
    async def start_services() -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_to_head(settings.resolved_database_url)
        app.db = Database(settings.resolved_database_url)
        app.masking = MaskingPolicy(enabled=settings.masking == "on", secret=settings.secret_key.encode())
        app.catalog = await load_catalog(app.db, settings.scenarios_dir)
        app.reply_queue = ReplyQueue(settings)
        app.tailer = EventTailer(app.db, settings)
        await app.tailer.start()

    @app.after_serving
    async def stop_services() -> None:
        await app.tailer.stop()
        await app.db.close()

    return app
