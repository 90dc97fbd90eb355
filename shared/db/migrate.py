"""Run the Alembic migrations programmatically (at start-up and from the CLI)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from shared.db import advisory
from shared.db.engine import BEGIN_MODE, create_sync_engine, is_postgresql, sqlite_file

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    """Bring the database to the newest schema. Safe to run from several processes at
    once (the web process and the worker both do at start-up): on SQLite the whole run
    holds an flock on `<database>-migrations`, so a second runner waits, then finds
    nothing to do. Each migration commits on its own (SQLite's DDL is not transactional
    in Alembic's sense), so BEGIN IMMEDIATE alone would let two runners interleave and
    both apply the same step. On PostgreSQL a session-level advisory lock on a connection
    of its own does the same, across hosts."""
    engine = create_sync_engine(url, pool_size=2)
    try:
        with _one_runner_at_a_time(url, engine), engine.connect() as connection:
            connection.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


@contextmanager
def _one_runner_at_a_time(url: str, engine) -> Iterator[None]:  # noqa: ANN001
    if is_postgresql(url):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock_connection:
            key = {"namespace": advisory.NAMESPACE, "key": advisory.MIGRATIONS}
            lock_connection.execute(text("SELECT pg_advisory_lock(:namespace, :key)"), key)
            try:
                yield
            finally:
                lock_connection.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), key)
        return
    database = sqlite_file(url)
    if database is None:  # in-memory SQLite: one process
        yield
        return
    with open(database.with_name(database.name + "-migrations"), "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
