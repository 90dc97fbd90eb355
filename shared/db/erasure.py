"""Erasing a trainee: every row that is theirs, in every table, in one transaction.

What is theirs is read off the schema rather than listed by hand, so a table added later
is covered the day it is added: a table with a `user_id` column holds rows of a user, a
table with a `session_id` column rows of their sessions. A table with neither must be
named in NOBODYS_TABLES (it holds no one's data), or the plan refuses to run: erasing
must never quietly miss a table.

The user's own row is kept as a tombstone rather than deleted: disabled, with a token
nobody was shown, a new credentials_revision, `erased_at` set and every other optional
column emptied (the display name, the last sign-in and whatever is added later), so only
the id, the role and when the account was made and erased remain. Keeping it does three
things a deleted row cannot: it records that (and when) the erasure was done, with
nothing personal; its raised revision closes the user's open chat sockets on every web
process within a second (web/revocation.py reads it from this row); and the id cannot be
given to someone else later, whose scores an organisation's records (an LRS fed by
`chattrain export scores`) would otherwise merge with the erased trainee's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Table, delete, func, or_, select, update

from shared.db.schema import metadata, sessions, users
from shared.db.users import select_user, update_user_disabled, update_user_token
from shared.lib.clock import utc_now_iso

# Tables without a user_id or session_id column that hold nobody's data: the scenario
# catalogue, the workers' heartbeats, the model providers' last outcomes.
NOBODYS_TABLES = frozenset({"scenarios", "workers", "provider_status"})

# The columns of the tombstone row that are kept or set (token_hash, disabled and
# credentials_revision by revoking the credentials, erased_at to the time); any other
# column is set to NULL.
TOMBSTONE_KEEPS = frozenset({"id", "role", "created_at", "token_hash", "disabled", "credentials_revision", "erased_at"})


class ErasureNotCovered(Exception):
    """A table the erasure does not know how to treat (no user_id or session_id column,
    and not declared as holding nobody's data)."""


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure removed (or would remove): rows per table, whether the user's row
    exists (and is, or would be, kept as a tombstone), and when it was erased (None
    before)."""

    rows: dict[str, int]
    has_user_row: bool
    erased_at: str | None = None

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _owned_rows(table: Table, user_id: str) -> ColumnElement[bool]:
    conditions = []
    if "user_id" in table.c:
        conditions.append(table.c.user_id == user_id)
    if "session_id" in table.c:
        conditions.append(table.c.session_id.in_(select(sessions.c.id).where(sessions.c.user_id == user_id)))
    return or_(*conditions)


def erasure_plan() -> list[Table]:
    """The tables a user's rows are deleted from, children before parents (so no foreign
    key is left pointing at a deleted row), and sessions last, since the other tables'
    rows are found through it. ErasureNotCovered for a table the plan cannot place."""
    plan = []
    for table in reversed(metadata.sorted_tables):
        if table is users or table is sessions or table.name in NOBODYS_TABLES:
            continue
        if "user_id" not in table.c and "session_id" not in table.c:
            raise ErasureNotCovered(
                f"table {table.name} has no user_id or session_id column: say in shared/db/erasure.py "
                "how its rows are erased, or that it holds nobody's data"
            )
        plan.append(table)
    return [*plan, sessions]


def tombstone_values() -> dict[str, None]:
    """The users columns a tombstone empties: every one not in TOMBSTONE_KEEPS.
    ErasureNotCovered for such a column that cannot be empty."""
    values = {}
    for column in users.c:
        if column.name in TOMBSTONE_KEEPS:
            continue
        if not column.nullable:
            raise ErasureNotCovered(
                f"users.{column.name} cannot be NULL: say in shared/db/erasure.py what a tombstone keeps in it"
            )
        values[column.name] = None
    return values


def count_user_rows(conn: Connection, user_id: str) -> ErasureResult:
    """What erase_user would remove, without removing anything (and the same refusal
    when a table or column is not covered)."""
    tombstone_values()
    rows = {
        table.name: conn.execute(
            select(func.count()).select_from(table).where(_owned_rows(table, user_id))
        ).scalar_one()
        for table in erasure_plan()
    }
    user = select_user(conn, user_id)
    return ErasureResult(rows=rows, has_user_row=user is not None, erased_at=user and user["erased_at"])


def erase_user(conn: Connection, user_id: str) -> ErasureResult:
    """Delete every row of the user's in every table and turn their users row into a
    tombstone, in the caller's write transaction (BEGIN IMMEDIATE on SQLite). Running it
    again on a tombstone removes anything written since (a session a request that was
    signed in before the erasure made just after it) and leaves the tombstone as it is."""
    plan, emptied = erasure_plan(), tombstone_values()  # both refuse before anything is written
    user = select_user(conn, user_id)
    erased_at = user and user["erased_at"]
    if user is not None and erased_at is None:
        erased_at = utc_now_iso()
        # First: on PostgreSQL this takes the credentials lock, and the new revision is
        # what closes the user's open sockets everywhere.
        update_user_token(conn, user_id)  # a token nobody is shown: no one signs in as them
        update_user_disabled(conn, user_id, disabled=True)
        conn.execute(update(users).where(users.c.id == user_id).values(**emptied, erased_at=erased_at))
    if conn.dialect.name == "postgresql":
        # A reply or a message being written to one of their sessions finishes first (it
        # locks the session); one that comes after finds the session gone.
        conn.execute(select(sessions.c.id).where(sessions.c.user_id == user_id).with_for_update())
    rows = {}
    for table in plan:
        rows[table.name] = conn.execute(delete(table).where(_owned_rows(table, user_id))).rowcount
    return ErasureResult(rows=rows, has_user_row=user is not None, erased_at=erased_at)
