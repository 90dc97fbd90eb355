"""One name for a worker's hold on a reply job, a claim: reply_jobs.lease_expires_at is
now claim_expires_at

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # RENAME COLUMN (SQLite 3.25+) keeps the table and its rows in place.
    op.alter_column("reply_jobs", "lease_expires_at", new_column_name="claim_expires_at")


def downgrade() -> None:
    op.alter_column("reply_jobs", "claim_expires_at", new_column_name="lease_expires_at")
