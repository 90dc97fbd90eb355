"""Adding people in bulk (a trainer's CSV import): all of them in one transaction, each
with a first sign-in link, or none of them.

A person added here gets an API token like any user (the users table requires one), but
it is never shown: people added by trainers sign in by link, and `chattrain users
rotate-token` gives whoever needs a token one."""

from __future__ import annotations

from sqlalchemy import Connection, select

from shared.db.browser_sessions import insert_sign_in_codes
from shared.db.schema import users
from shared.db.users import insert_user

# Ids per statement: far below every driver's limit on bound parameters.
_IDS_PER_READ = 500


class PeopleTaken(Exception):
    """Some of the people to add exist already (their ids, in the order asked)."""

    def __init__(self, user_ids: list[str]):
        super().__init__(f"{len(user_ids)} user id(s) exist already")
        self.user_ids = user_ids


def select_taken_user_ids(conn: Connection, user_ids: list[str]) -> set[str]:
    """Which of these user ids belong to someone already."""
    taken: set[str] = set()
    for start in range(0, len(user_ids), _IDS_PER_READ):
        chunk = user_ids[start : start + _IDS_PER_READ]
        taken.update(row.id for row in conn.execute(select(users.c.id).where(users.c.id.in_(chunk))))
    return taken


def insert_people(
    conn: Connection, people: list[tuple[str, str, str | None]], *, now: float, link_ttl_seconds: float
) -> dict[str, tuple[str, float]]:
    """Add each (user_id, role, display_name) and make each a sign-in code: user id ->
    (code, expires_at epoch). PeopleTaken, before anything is written, when any id exists
    already; UserError for an id or role the users table refuses (the caller checked
    them, so that is a bug), which rolls the whole transaction back."""
    ids = [user_id for user_id, _role, _name in people]
    taken = select_taken_user_ids(conn, ids)
    if taken:
        raise PeopleTaken([user_id for user_id in ids if user_id in taken])
    for user_id, role, display_name in people:
        insert_user(conn, user_id=user_id, role=role, display_name=display_name)
    return insert_sign_in_codes(conn, ids, now=now, ttl_seconds=link_ttl_seconds)


def select_people(conn: Connection, user_ids: list[str]) -> list[dict]:
    """These users (never their token hashes), in the order asked; unknown ids are left out."""
    found: dict[str, dict] = {}
    for start in range(0, len(user_ids), _IDS_PER_READ):
        chunk = user_ids[start : start + _IDS_PER_READ]
        for row in conn.execute(select(users).where(users.c.id.in_(chunk))):
            person = dict(row._mapping)
            person.pop("token_hash", None)
            person["disabled"] = bool(person["disabled"])
            found[person["id"]] = person
    return [found[user_id] for user_id in user_ids if user_id in found]
