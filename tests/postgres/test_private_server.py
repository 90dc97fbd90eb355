"""The fallback for machines without PostgreSQL on 127.0.0.1:5432: the suite starts its
own throwaway server from Debian's binaries (tests/support/postgres.py)."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import text

from shared.db.engine import create_sync_engine
from shared.db.migrate import alembic_config, upgrade_to_head
from tests.support.postgres import start_private_server, throwaway_database


def test_a_private_server_starts_on_a_free_port_and_takes_the_migrations(pg_server):
    server = start_private_server()
    assert not server.endswith(":5432")
    with throwaway_database(server) as url:
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        upgrade_to_head(url)
        engine = create_sync_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
        finally:
            engine.dispose()
