"""The prepared-statement path (shared/db/prepared.py: statements compiled once, run on
the driver's cursor) on psycopg 3: its parameter style, RETURNING, rowcounts, and the
server-side preparation psycopg does after a few executions."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from shared.db.prepared import Prepared
from shared.db.scenario_rows import upsert_scenario
from shared.db.schema import sessions

_BY_USER = Prepared(select(sessions.c.id).where(sessions.c.user_id == bindparam("user_id")).order_by(sessions.c.id))
_FINISH = Prepared(
    sessions.update()
    .where(sessions.c.user_id == bindparam("user_id"), sessions.c.status == "active")
    .values(status="completed")
)


def test_prepared_statements_run_on_psycopg_with_true_rowcounts(engine):
    from shared.db import sessions as session_rows

    with engine.begin() as conn:
        scenario_id = upsert_scenario(conn, slug="s", title="S", config={}, file_path="/nowhere")
        made = [session_rows.insert_session(conn, scenario_id=scenario_id, user_id="u")["id"] for _ in range(3)]
        for _ in range(8):  # past psycopg's prepare_threshold: the server-side prepared form runs too
            assert [row[0] for row in _BY_USER.all(conn, {"user_id": "u"})] == made
            assert _BY_USER.scalar(conn, {"user_id": "u"}) == made[0]
            assert session_rows.select_session(conn, made[1])["id"] == made[1]
        assert _FINISH.run(conn, {"user_id": "u"}) == 3
        assert _FINISH.run(conn, {"user_id": "u"}) == 0
