"""Number each session's events (events.seq, from 1 in a new session): the event_id a
client sees and resumes from, so it tells nothing of other sessions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN, not a batch rebuild: rebuilding would copy the whole log and could drop
    # the table's AUTOINCREMENT. The default only fills the existing rows, set just below.
    op.add_column("events", sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
    # Existing events keep the event_id clients have seen (their id), so a cursor kept
    # across the upgrade still resumes; a session's new events continue from its newest.
    op.execute("UPDATE events SET seq = id")
    op.drop_index("ix_events_session_id", table_name="events")
    op.create_index("ix_events_session_seq", "events", ["session_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_events_session_seq", table_name="events")
    op.create_index("ix_events_session_id", "events", ["session_id", "id"], unique=False)
    op.drop_column("events", "seq")  # SQLite 3.35+: no rebuild, AUTOINCREMENT kept
