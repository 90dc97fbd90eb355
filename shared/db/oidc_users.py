"""Signing a person in after their OpenID Connect provider vouched for them: find (or
create) the user the ID token names, set the role the provider says, and open a browser
session for them, all in one write transaction.

The browser session is the same kind a sign-in link opens (shared/db/browser_sessions.py):
the same table, cookie, lifetime and revocation, so nothing downstream knows or cares
how the person signed in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from shared.db.browser_sessions import open_browser_session
from shared.db.schema import users
from shared.db.users import insert_user, select_user


class SignInRefused(Exception):
    """The provider vouched for someone ChatTrain will not sign in; `code` says why."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def sign_in_oidc_user(
    conn: Connection,
    user_id: str,
    *,
    role: str | None,
    display_name: str | None,
    create: bool,
    now: float,
    session_ttl_seconds: float,
) -> tuple[dict[str, Any], str]:
    """(the user, a new browser session's secret) for the person the provider named.

    `role` is the provider's say (None: it has none, and an existing user keeps theirs; a
    new one is a trainee). An unknown user is created when `create` allows it. Raises
    SignInRefused for an unknown user that may not be created, and for a disabled one.
    Run in a write transaction (BEGIN IMMEDIATE on SQLite): the read and the writes that
    follow it must see the same row."""
    user = select_user(conn, user_id)
    if user is None:
        if not create:
            raise SignInRefused(
                "oidc_user_unknown",
                f"There is no ChatTrain user {user_id!r}, and new people are not created at sign-in here: "
                "ask a trainer to add you.",
            )
        # The API token insert_user returns is never shown: this person signs in through
        # the provider, and a trainer can rotate it (`chattrain users rotate-token`) when needed.
        insert_user(conn, user_id=user_id, role=role or "trainee", display_name=display_name)
        user = select_user(conn, user_id)
    elif user["disabled"]:
        raise SignInRefused("oidc_user_disabled", f"The ChatTrain user {user_id!r} is disabled: ask a trainer.")
    if role is not None:
        user["role"] = role
    conn.execute(update(users).where(users.c.id == user_id).values(role=user["role"]))
    return user, open_browser_session(conn, user, now=now, session_ttl_seconds=session_ttl_seconds)
