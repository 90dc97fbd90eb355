"""Engine construction: the one place that knows about SQLite pragmas and transaction modes.

Every process uses a synchronous engine (the web process runs it on database threads,
see web/database.py). Both get WAL mode, foreign keys, and explicit BEGIN statements so
that write transactions can take SQLite's write lock up front (BEGIN IMMEDIATE) instead
of failing with SQLITE_BUSY half-way through a read-then-write.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from shared.db.write_lock import WriteLock, write_lock_for
from shared.lib.extras import missing_driver

# Connection execution option naming the SQLite BEGIN mode: "DEFERRED", "IMMEDIATE", or
# IMMEDIATE_NOWAIT (take the write lock only if it is free now, else raise WriterBusy;
# for a caller that must not wait, such as the web process's event loop).
BEGIN_MODE = "chattrain_begin_mode"
IMMEDIATE_NOWAIT = "IMMEDIATE_NOWAIT"


class WriterBusy(Exception):
    """Another writer holds the database's write lock (IMMEDIATE_NOWAIT only); nothing
    was begun, so the caller can hand the transaction to a thread that may wait."""


BUSY_TIMEOUT_MS = 10_000


# How long a PostgreSQL connection attempt may take before start-up gives up on it.
CONNECT_TIMEOUT_SECONDS = 10


class DatabaseUnavailable(Exception):
    """CHATTRAIN_DATABASE_URL is malformed, names an unsupported database, or cannot be
    reached (at start-up, or later: the server went away). The message is one line, fit
    for an operator, with any password hidden."""


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` says the database server could not be reached or dropped the
    connection (refused, reset, shut down), rather than refusing a statement."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
    if not isinstance(error, _driver_errors()):
        return False
    # A client-side failure has no SQLSTATE; class 08 is "connection exception", 57P01-03
    # a server shutting down or starting up.
    state = getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def connection_lost(conn: Connection, error: BaseException) -> bool:
    """Whether `error` left `conn` unusable because the server went away (a restart, a
    failover, a network cut): the connection must be replaced, not used again. An error
    of the statement itself (a constraint, a deadlock) leaves the connection usable.

    SQLAlchemy notices a lost connection in the statements it runs; the hot statements
    run on the driver's connection (shared/db/prepared.py), so its state is asked too."""
    if is_unreachable(error) or conn.closed or conn.invalidated:
        return True
    try:
        driver = conn.connection.driver_connection
    except Exception:
        return True
    return bool(getattr(driver, "closed", False) or getattr(driver, "broken", False))


def _driver_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # a SQLite-only install (the postgresql extra): no driver, no such errors
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


def unreachable(url: str, error: BaseException) -> DatabaseUnavailable:
    """The one-line DatabaseUnavailable for a server that cannot be reached now."""
    parsed = _driver_url(url)
    reason = _one_line(str(getattr(error, "orig", None) or error), parsed)
    return DatabaseUnavailable(f"cannot reach the database {shown_url(parsed)}: {reason}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def shown_url(url: str | URL) -> str:
    """A database URL as it may appear in a log line or an error: password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(not a URL)"


def _driver_url(url: str) -> URL:
    """The URL with the driver ChatTrain supports: `postgresql://` means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def check_database(url: str) -> None:
    """Raise DatabaseUnavailable unless `url` is a SQLite or PostgreSQL (psycopg) URL and,
    for PostgreSQL, the server answers. Run once at start-up by every entry point, so a
    wrong setting stops the process with one clear line rather than a traceback later."""
    try:
        parsed = _driver_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUnavailable(
            "CHATTRAIN_DATABASE_URL is not a database URL (expected sqlite:///PATH or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE)"
        ) from None
    shown = shown_url(parsed)
    if parsed.get_backend_name() == "sqlite":
        return
    if parsed.drivername != "postgresql+psycopg":
        raise DatabaseUnavailable(
            f"CHATTRAIN_DATABASE_URL {shown}: use SQLite or PostgreSQL with psycopg (postgresql+psycopg://...)"
        )
    missing = missing_driver("psycopg")
    if missing is not None:
        raise DatabaseUnavailable(f"CHATTRAIN_DATABASE_URL {shown}: {missing}")
    try:
        engine = create_sync_engine(url, pool_size=1)
    except (ArgumentError, NoSuchModuleError) as error:
        raise DatabaseUnavailable(f"CHATTRAIN_DATABASE_URL {shown}: {_one_line(str(error), parsed)}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as error:
        reason = _one_line(str(error.orig), parsed)
        raise DatabaseUnavailable(f"cannot reach the database {shown}: {reason}") from None
    finally:
        engine.dispose()


def _one_line(message: str, url: URL) -> str:
    """The first line of a driver's error, with the URL's password taken out should the
    driver ever repeat it."""
    line = (message.strip().splitlines() or ["unknown error"])[0]
    if url.password:
        line = line.replace(str(url.password), "***")
    return line


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases or in-memory SQLite."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _install_sqlite_hooks(sync_engine: Engine, write_lock: WriteLock | None) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy's begin event, not the driver, decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Checkpoints run on a background thread (shared/db/checkpoint.py), not in a COMMIT.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
        if mode == IMMEDIATE_NOWAIT:
            begin_without_waiting(conn.connection.driver_connection, write_lock)
        elif mode == "IMMEDIATE":
            dbapi_connection = conn.connection.driver_connection
            if write_lock is None:
                begin_immediate(dbapi_connection)
                return
            write_lock.acquire(dbapi_connection, BUSY_TIMEOUT_MS / 1000)
            try:
                begin_immediate(dbapi_connection)
            except BaseException:
                write_lock.release(dbapi_connection)
                raise
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")

    if write_lock is not None:
        # The write lock is released once the transaction has ended (SQLAlchemy's commit
        # and rollback events fire before the driver's, so the dialect's calls are wrapped).
        dialect = sync_engine.dialect
        driver_commit, driver_rollback = dialect.do_commit, dialect.do_rollback

        # They are handed the pool's proxy of the driver connection, or the driver's own.
        def do_commit(dbapi_connection) -> None:  # noqa: ANN001
            try:
                driver_commit(dbapi_connection)
            finally:
                write_lock.release(getattr(dbapi_connection, "driver_connection", dbapi_connection))

        def do_rollback(dbapi_connection) -> None:  # noqa: ANN001
            try:
                driver_rollback(dbapi_connection)
            finally:
                write_lock.release(getattr(dbapi_connection, "driver_connection", dbapi_connection))

        dialect.do_commit = do_commit
        dialect.do_rollback = do_rollback


def begin_without_waiting(dbapi_connection, write_lock: WriteLock | None) -> None:  # noqa: ANN001
    """BEGIN IMMEDIATE if the write lock (ChatTrain's and SQLite's) is free this instant;
    WriterBusy, with nothing begun, if not."""
    if write_lock is not None and not write_lock.try_acquire(dbapi_connection):
        raise WriterBusy()
    try:
        dbapi_connection.execute("PRAGMA busy_timeout=0")
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        finally:
            dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.OperationalError as error:
        if write_lock is not None:
            write_lock.release(dbapi_connection)
        if "locked" in str(error):
            raise WriterBusy() from error
        raise
    except BaseException:
        if write_lock is not None:
            write_lock.release(dbapi_connection)
        raise


def begin_immediate(dbapi_connection, timeout_seconds: float = BUSY_TIMEOUT_MS / 1000) -> None:  # noqa: ANN001
    """Take SQLite's write lock, waiting for another process's write to finish.

    SQLite's own busy handler sleeps 1 ms, then 2, 5, 10 ms and more between tries, which
    is far longer than the short write transactions here last (docs/performance.md,
    Design measurements); under load those sleeps would dominate latency. So the handler is off for BEGIN and the
    retry backs off from 50 microseconds instead."""
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        delay = 0.00005
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def create_sync_engine(url: str, **engine_options) -> Engine:  # noqa: ANN003
    """Engine for the worker, the web process's database threads, migrations and the CLI."""
    if is_sqlite(url):
        engine = create_engine(url, **engine_options)
        database = sqlite_file(url)
        _install_sqlite_hooks(engine, write_lock_for(database) if database else None)
        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **engine_options.pop("connect_args", {})}
    # pool_pre_ping: a server restart or failover leaves dead connections in the pool.
    engine = create_engine(_driver_url(url), connect_args=connect_args, pool_pre_ping=True, **engine_options)
    return engine
