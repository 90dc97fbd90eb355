"""The migrations build exactly the schema that shared/db/schema.py declares, and the
statements that run for every reply are served by an index rather than by walking a
session's rows (a long session must cost no more per reply than a short one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import events as event_rows
from shared.db import messages as message_rows
from shared.db.engine import create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.prepared import Prepared
from shared.db.schema import metadata


@pytest.fixture(name="engine")
def _engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'chattrain.db'}"
    upgrade_to_head(url)
    engine = create_sync_engine(url)
    yield engine
    engine.dispose()


def test_migrated_database_matches_the_declared_schema(engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def _query_plan(conn, prepared: Prepared) -> str:  # noqa: ANN001
    sql, positions, defaults = prepared._compile(conn)
    args = tuple(defaults.get(name, 1) for name in positions)
    rows = conn.connection.driver_connection.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
    return " | ".join(row[-1] for row in rows)


@pytest.mark.parametrize(
    ("prepared", "expected"),
    [
        (message_rows._ASSISTANT_BEFORE, "COVERING INDEX ix_messages_session_role"),
        (message_rows._COUNT_BY_ROLE, "COVERING INDEX ix_messages_session_role"),
        (event_rows._DELTAS, "INDEX ix_events_message_id (message_id=?)"),
        (message_rows._RECENT, "INDEX ix_messages_session_id (session_id=? AND id<?)"),
        (event_rows._AFTER, "INTEGER PRIMARY KEY (rowid>?)"),
        (event_rows._SESSION_AFTER, "INDEX ix_events_session_seq (session_id=? AND seq>?)"),
        (event_rows._SESSION_LAST_SEQ, "COVERING INDEX ix_events_session_seq"),
    ],
    ids=[
        "customer lines before",
        "lines by role",
        "a reply's deltas",
        "recent history",
        "tailer",
        "replay",
        "next seq",
    ],
)
def test_per_reply_statements_use_an_index(engine, prepared: Prepared, expected: str) -> None:
    with engine.connect() as conn:
        plan = _query_plan(conn, prepared)
    assert expected in plan, plan
    assert "SCAN" not in plan, plan


def _upgrade_when_told(url: str, go, results) -> None:  # noqa: ANN001
    go.wait(30)
    try:
        upgrade_to_head(url)
        results.put("ok")
    except Exception as error:  # reported to the test, not lost in the child
        results.put(repr(error))


def test_two_processes_migrating_a_new_database_at_once_both_succeed(tmp_path: Path) -> None:
    """The web process and the worker both migrate at start-up; each migration commits on
    its own, so without a lock held for the whole run they interleaved and one applied a
    step the other had just applied ("table users already exists")."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'race-{attempt}.db'}"
        go, results = spawn.Event(), spawn.Queue()
        runners = [spawn.Process(target=_upgrade_when_told, args=(url, go, results)) for _ in range(2)]
        for runner in runners:
            runner.start()
        go.set()
        outcomes = [results.get(timeout=60) for _ in runners]
        for runner in runners:
            runner.join(30)
        assert outcomes == ["ok", "ok"]


def test_events_stored_before_per_session_numbering_keep_their_event_id(tmp_path: Path) -> None:
    """A client's cursor kept across the upgrade still resumes: old events keep their
    global id as event_id, and a session's new events continue from its newest."""
    from alembic import command
    from sqlalchemy import text

    from shared.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'chattrain.db'}"
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "0006")
            conn.commit()
        with engine.connect() as conn:
            conn.execute(
                text(
                    "INSERT INTO scenarios (id, slug, title, config_json, file_path, updated_at) "
                    "VALUES (1, 's', 't', '{}', 'f', 'now')"
                )
            )
            for session_id in (1, 2, 3):
                conn.execute(
                    text(
                        "INSERT INTO sessions (id, scenario_id, user_id, created_at, last_activity_at) "
                        "VALUES (:s, 1, 'u', 'now', 'now')"
                    ),
                    {"s": session_id},
                )
            for session_id in (1, 2, 1, 2, 2):
                conn.execute(
                    text(
                        "INSERT INTO events (session_id, type, payload_json, created_at) VALUES (:s, 't', '{}', 'now')"
                    ),
                    {"s": session_id},
                )
            conn.commit()
        upgrade_to_head(url)
        with engine.connect() as conn:
            for session_id in (1, 3):
                event_rows.insert_event(conn, session_id=session_id, frame=("t", {}))
            conn.commit()
            events = event_rows.select_events_after(conn, 0)
    finally:
        engine.dispose()
    assert [(event.session_id, event.seq) for event in events] == [
        (1, 1),
        (2, 2),
        (1, 3),
        (2, 4),
        (2, 5),
        (1, 4),
        (3, 1),
    ]
