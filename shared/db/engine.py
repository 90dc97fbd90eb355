"""Engine construction: the one place that knows about SQLite pragmas and transaction modes.

Every process uses a synchronous engine (the web process runs it on database threads,
see web/database.py). Both get WAL mode, foreign keys, and explicit BEGIN statements so
that write transactions can take SQLite's write lock up front (BEGIN IMMEDIATE) instead
of failing with SQLITE_BUSY half-way through a read-then-write.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# Connection execution option naming the SQLite BEGIN mode ("DEFERRED" or "IMMEDIATE").
BEGIN_MODE = "chattrain_begin_mode"
BUSY_TIMEOUT_MS = 10_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _install_sqlite_hooks(sync_engine: Engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy's begin event, not the driver, decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_sync_engine(url: str, **engine_options) -> Engine:  # noqa: ANN003
    """Engine for the worker, the web process's database threads, migrations and the CLI."""
    engine = create_engine(url, **engine_options)
    if is_sqlite(url):
        _install_sqlite_hooks(engine)
    return engine
