"""PostgreSQL advisory locks: the names ChatTrain locks by, where no row stands for the
thing being serialised (the schema, the sweep, the credentials counter, one user's open
sessions). Keys are per database, so two deployments on one server never meet.

On SQLite these are no-ops: a write transaction there already holds the database's only
write lock (BEGIN IMMEDIATE), and migrations take an flock (shared/db/migrate.py)."""

from __future__ import annotations

from sqlalchemy import Connection, text

# The two-int form pg_advisory_xact_lock(namespace, key): ChatTrain's namespace, then what.
NAMESPACE = 0x43485454  # "CHTT"
MIGRATIONS = 1
SWEEP = 2
CREDENTIALS_REVISION = 3
# Keyed by a hash of the user id in a namespace of its own (an int4 each).
USER_SESSIONS_NAMESPACE = 0x43485455


def lock_for_transaction(conn: Connection, key: int) -> None:
    """Wait for ChatTrain's lock `key`, held until this transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"), {"namespace": NAMESPACE, "key": key})


def lock_user_for_transaction(conn: Connection, user_id: str) -> None:
    """Serialise one user's read-then-write on PostgreSQL (their open-sessions count),
    whether or not they have a users row (insecure-dev mode)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:user_id))"),
            {"namespace": USER_SESSIONS_NAMESPACE, "user_id": user_id},
        )
