"""users, WebSocket tickets and rate-limit counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Existing sessions keep their user_id. They become visible to a trainee once a user with
that id is created (`chattrain users create --id <user_id> --role trainee`); trainers see
them at once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "ws_tickets",
        sa.Column("ticket_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("ticket_hash"),
    )
    with op.batch_alter_table("ws_tickets", schema=None) as batch_op:
        batch_op.create_index("ix_ws_tickets_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "rate_limit_hits",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "action", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_hits")
    with op.batch_alter_table("ws_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_ws_tickets_expires_at")

    op.drop_table("ws_tickets")
    op.drop_table("users")
