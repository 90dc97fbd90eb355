"""The scenarios table: a copy of the scenario files, keyed by slug, giving each a stable
integer id."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.db.jsoncol import dumps
from shared.db.schema import scenarios
from shared.lib.clock import utc_now_iso


def _insert_for(conn: Connection):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def upsert_scenario(conn: Connection, *, slug: str, title: str, config: dict, file_path: str) -> int:
    """Insert or update one scenario by slug; return its integer id."""
    insert = _insert_for(conn)
    values = {
        "slug": slug,
        "title": title,
        "config_json": dumps(config),
        "file_path": file_path,
        "updated_at": utc_now_iso(),
    }
    statement = insert(scenarios).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[scenarios.c.slug],
        set_={k: statement.excluded[k] for k in ("title", "config_json", "file_path", "updated_at")},
    )
    conn.execute(statement)
    return conn.execute(select(scenarios.c.id).where(scenarios.c.slug == slug)).scalar_one()


def select_scenario_ids(conn: Connection) -> dict[str, int]:
    """Map every stored scenario's slug to its id."""
    return {row.slug: row.id for row in conn.execute(select(scenarios.c.slug, scenarios.c.id))}


def select_scenario_row(conn: Connection, scenario_id: int) -> dict | None:
    """One stored scenario's id, slug and title, or None."""
    row = conn.execute(
        select(scenarios.c.id, scenarios.c.slug, scenarios.c.title).where(scenarios.c.id == scenario_id)
    ).first()
    return dict(row._mapping) if row else None
