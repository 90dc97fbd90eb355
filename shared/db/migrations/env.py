"""Alembic environment: migrations run on the connection handed over by shared.db.migrate,
or on a fresh engine when Alembic is invoked directly."""

from alembic import context

from shared.db.engine import create_sync_engine
from shared.db.schema import metadata

config = context.config


def run_migrations(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = create_sync_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as fresh_connection:
        run_migrations(fresh_connection)
