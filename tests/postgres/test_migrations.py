"""Migrations on PostgreSQL: several processes migrating one empty database at once all
succeed (an advisory lock lets one run at a time), and ids are 64-bit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import text

from tests.support.stack import REPO_ROOT


def test_three_processes_migrating_an_empty_database_at_once_all_succeed(tmp_path, pg_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTRAIN_")}
    env.update(CHATTRAIN_DATABASE_URL=pg_url, CHATTRAIN_DATA_DIR=str(tmp_path))
    # Each process imports first, then starts migrating at the same instant.
    start_at = time.time() + 4
    script = (
        "import time; from shared.db.migrate import upgrade_to_head; "
        f"time.sleep(max(0, {start_at} - time.time())); upgrade_to_head({pg_url!r})"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes


def test_ids_and_counters_are_64_bit_after_migrating(engine):
    with engine.connect() as conn:
        types = dict(
            conn.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type IN ('integer', 'bigint')"
                )
            ).all()
        )
    for column in (
        "events.id",
        "events.session_id",
        "events.seq",
        "events.message_id",
        "messages.id",
        "messages.session_id",
        "messages.reply_to",
        "sessions.id",
        "sessions.scenario_id",
        "reply_jobs.message_id",
        "reply_jobs.session_id",
        "reports.session_id",
        "scenarios.id",
        "users.credentials_revision",
        "browser_sessions.credentials_revision",
    ):
        assert types[column] == "bigint", column
    with engine.connect() as conn:
        sequences = dict(conn.execute(text("SELECT sequencename, data_type::text FROM pg_sequences")).all())
    assert set(sequences.values()) == {"bigint"}, sequences


def test_migrated_postgresql_database_matches_the_declared_schema(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from shared.db.schema import metadata

    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
