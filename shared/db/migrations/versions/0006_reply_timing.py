"""Record when each reply's model call was made and streamed, and how many model calls
each worker has in progress and waiting, for /api/health and the benchmark

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reply_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_requested_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("model_first_chunk_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("model_last_chunk_at", sa.Float(), nullable=True))
        batch_op.create_index("ix_reply_jobs_model_requested_at", ["model_requested_at"], unique=False)
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_calls", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("model_calls_waiting", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("model_calls_waiting")
        batch_op.drop_column("model_calls")
    with op.batch_alter_table("reply_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_jobs_model_requested_at")
        batch_op.drop_column("model_last_chunk_at")
        batch_op.drop_column("model_first_chunk_at")
        batch_op.drop_column("model_requested_at")
