"""Run the Alembic migrations programmatically (at start-up and from the CLI)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db.engine import BEGIN_MODE, create_sync_engine, sqlite_file

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
    both apply the same step."""
    engine = create_sync_engine(url)
    try:
        with _one_runner_at_a_time(url), engine.connect() as connection:
            connection.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


@contextmanager
def _one_runner_at_a_time(url: str) -> Iterator[None]:
    database = sqlite_file(url)
    if database is None:  # PostgreSQL would take an advisory lock here
        yield
        return
    with open(database.with_name(database.name + "-migrations"), "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
