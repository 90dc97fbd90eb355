"""A CSV import racing another writer on PostgreSQL: an id that someone else inserts
after the import checked it (but before they commit) makes the import's insert wait on
the unique index and then fail; the import answers 409 user_exists and adds nobody."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from shared.db.engine import create_sync_engine
from shared.db.users import insert_user, select_users
from tests.conftest import create_test_user


def _hold_an_insert_until_someone_waits_on_it(url: str, user_id: str, started: threading.Event) -> list[str]:
    """Insert `user_id` in an open transaction, commit once another backend waits on a
    lock (the import's insert of the same id), or after 20 s; returns what happened."""
    seen = []
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            insert_user(conn, user_id=user_id, role="trainee")
            started.set()
            deadline = time.monotonic() + 20
            with engine.connect() as watcher:
                while time.monotonic() < deadline:
                    waiting = watcher.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                        )
                    ).scalar_one()
                    if waiting:
                        seen.append("import waited")
                        break
                    time.sleep(0.02)
    finally:
        engine.dispose()
    return seen


async def test_an_id_added_by_someone_else_mid_import_is_409_and_nobody_is_added(app, database_url):
    trainer = await create_test_user(app, "trainer", "boss")
    started = threading.Event()
    outcome: list[str] = []
    holder = threading.Thread(
        target=lambda: outcome.extend(_hold_an_insert_until_someone_waits_on_it(database_url, "race-2", started))
    )
    holder.start()
    assert started.wait(10)
    try:
        response = await app.test_client().post(
            "/api/people-import",
            json={"csv": "user_id,role\nrace-1,trainee\nrace-2,trainee\nrace-3,trainee\n"},
            headers=trainer.headers,
        )
    finally:
        holder.join(30)
    assert outcome == ["import waited"]
    body = await response.get_json()
    assert response.status_code == 409 and body["code"] == "user_exists", body
    ids = [user["id"] for user in await app.app.db.read(select_users)]
    assert ids == ["boss", "race-2"]  # race-2 is the other writer's; race-1 and race-3 were undone
