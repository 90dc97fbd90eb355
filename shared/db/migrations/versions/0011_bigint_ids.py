"""64-bit ids and counters on PostgreSQL: every integer column and every sequence becomes
BIGINT (SQLite's INTEGER already is 64-bit, so SQLite has nothing to do)

An id above 2**31 in a URL raised on PostgreSQL instead of answering 404, and events.id
would run out after about two billion events. ALTER ... TYPE bigint rewrites each table
under an exclusive lock: on a large database, run `chattrain db upgrade` in a quiet
moment before starting the new version.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op
from sqlalchemy import text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _retype(to: str, columns_of: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    columns = bind.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = :of AND table_name <> 'alembic_version' "
            "ORDER BY table_name, ordinal_position"
        ),
        {"of": columns_of},
    ).all()
    tables: dict[str, list[str]] = {}
    for table, column in columns:
        tables.setdefault(table, []).append(column)
    for table, names in tables.items():
        changes = ", ".join(f'ALTER COLUMN "{name}" TYPE {to}' for name in names)
        op.execute(f'ALTER TABLE "{table}" {changes}')
    sequences = (
        bind.execute(
            text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND data_type = CAST(:of AS regtype)"
            ),
            {"of": columns_of},
        )
        .scalars()
        .all()
    )
    for sequence in sequences:
        op.execute(f'ALTER SEQUENCE "{sequence}" AS {to}')


def upgrade() -> None:
    _retype("bigint", "integer")


def downgrade() -> None:
    _retype("integer", "bigint")
