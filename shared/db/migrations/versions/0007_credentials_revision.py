"""Number each revocation of a user's credentials (token rotated, user disabled), so
every web process can close the sockets opened with them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials_revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_users_credentials_revision", ["credentials_revision"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_credentials_revision")
        batch_op.drop_column("credentials_revision")
