"""The users and ws_tickets tables: who may use the API, and the short-lived tickets a
browser uses to open the chat socket.

Tokens and tickets are random (`secrets.token_urlsafe(32)`: 256 bits), shown once, and
stored only as a SHA-256 hash. A plain, fast hash is enough here: slow, salted hashes
(bcrypt, argon2) exist to stop guessing of low-entropy passwords from a stolen hash, and
no one can guess through 2**256 possibilities however fast each guess is. A fast hash
also lets the hash be the lookup key (one indexed read per request).

Revoking a user's credentials (disabling them, rotating their token) deletes their
unused tickets and sign-in links and raises their `credentials_revision`, which is how sockets opened
before are found and closed (web/revocation.py)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from shared.db import advisory
from shared.db.dbclock import now_for
from shared.db.schema import sign_in_codes, users, ws_tickets
from shared.lib.clock import utc_now_iso

ROLES = ("trainee", "trainer")
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
TOKEN_BYTES = 32


class UserError(Exception):
    """A user operation that cannot be done (unknown role, id taken, ...)."""


def new_secret() -> str:
    """A fresh token or ticket: 256 random bits, URL- and subprotocol-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_secret(secret: str) -> str:
    """The stored form of a token or ticket (see the module docstring for why SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _public(row) -> dict[str, Any]:  # noqa: ANN001
    user = dict(row._mapping)
    user.pop("token_hash", None)
    user["disabled"] = bool(user["disabled"])
    return user


def insert_user(conn: Connection, *, user_id: str, role: str, display_name: str | None = None) -> str:
    """Create a user and return their token (the only time it exists in clear)."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not USER_ID_PATTERN.fullmatch(user_id):
        raise UserError("user id: 1-128 letters, digits or . _ @ + -, starting with a letter or digit")
    existing = select_user(conn, user_id)
    if existing is not None and existing.get("erased_at"):
        raise UserError(f"the user {user_id!r} was erased; an erased user's id is not given again")
    if existing is not None:
        raise UserError(f"a user with id {user_id!r} already exists")
    token = new_secret()
    conn.execute(
        users.insert().values(
            id=user_id,
            role=role,
            display_name=display_name,
            token_hash=hash_secret(token),
            disabled=False,
            created_at=utc_now_iso(),
        )
    )
    return token


def select_user(conn: Connection, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return _public(row) if row else None


def select_user_by_token(conn: Connection, token: str) -> dict[str, Any] | None:
    """The enabled user this token belongs to, or None."""
    row = conn.execute(
        select(users).where(users.c.token_hash == hash_secret(token), users.c.disabled.is_(False))
    ).first()
    return _public(row) if row else None


def select_users(conn: Connection) -> list[dict[str, Any]]:
    return [_public(row) for row in conn.execute(select(users).order_by(users.c.created_at, users.c.id))]


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()


def _revoke_credentials(conn: Connection, user_id: str, **values: Any) -> bool:
    """Update the user with `values` and mark their credentials revoked: a new
    credentials_revision, one above every user's (run in a BEGIN IMMEDIATE transaction,
    so the numbers follow commit order; on PostgreSQL an advisory lock held to the commit
    does the same), and none of their unused tickets or sign-in links left (a link made
    before a rotation would otherwise sign in after it). False if there is no such user."""
    advisory.lock_for_transaction(conn, advisory.CREDENTIALS_REVISION)
    next_revision = select_last_credentials_revision(conn) + 1
    result = conn.execute(
        update(users).where(users.c.id == user_id).values(**values, credentials_revision=next_revision)
    )
    conn.execute(delete(ws_tickets).where(ws_tickets.c.user_id == user_id))
    conn.execute(delete(sign_in_codes).where(sign_in_codes.c.user_id == user_id))
    return result.rowcount == 1


def update_user_disabled(conn: Connection, user_id: str, *, disabled: bool = True) -> bool:
    """Disable (or re-enable) a user. Disabling revokes their credentials: the token
    stops working at once, tickets and sign-in links are deleted, open sockets close.
    False if unknown (or, to re-enable, erased)."""
    if disabled:
        return _revoke_credentials(conn, user_id, disabled=True)
    # An erased user's tombstone stays disabled (shared/db/erasure.py).
    enable = update(users).where(users.c.id == user_id, users.c.erased_at.is_(None)).values(disabled=False)
    return conn.execute(enable).rowcount == 1


def update_user_token(conn: Connection, user_id: str) -> str | None:
    """Give a user a new token and return it; None if unknown or erased. The old token's
    credentials are revoked: it stops working at once, tickets and sign-in links are
    deleted, open sockets close."""
    user = select_user(conn, user_id)
    if user is None or user.get("erased_at"):  # a tombstone gets no token anyone is shown
        return None
    token = new_secret()
    return token if _revoke_credentials(conn, user_id, token_hash=hash_secret(token)) else None


def select_credentials_revoked_after(conn: Connection, revision: int) -> list[tuple[str, int]]:
    """(user id, credentials_revision) of each user revoked after `revision`, oldest
    first: an indexed range read, empty unless something was revoked since."""
    rows = conn.execute(
        select(users.c.id, users.c.credentials_revision)
        .where(users.c.credentials_revision > revision)
        .order_by(users.c.credentials_revision)
    )
    return [(row.id, row.credentials_revision) for row in rows]


def select_last_credentials_revision(conn: Connection) -> int:
    """The newest credentials_revision (0 before any revocation)."""
    return conn.execute(select(func.coalesce(func.max(users.c.credentials_revision), 0))).scalar_one()


def insert_ws_ticket(
    conn: Connection, *, user_id: str, credentials_revision: int, now: float, ttl_seconds: float
) -> tuple[str, float] | None:
    """Issue a single-use socket ticket for a user; returns (ticket, expires_at epoch), or
    None when the user is disabled or their credentials were revoked after the caller's
    token was checked at `credentials_revision` (a ticket must not outlive the token it
    was asked for with). Expired tickets are pruned here, so the table holds only the last
    minute's."""
    current = conn.execute(
        select(users.c.id).where(
            users.c.id == user_id, users.c.credentials_revision == credentials_revision, users.c.disabled.is_(False)
        )
    ).first()
    if current is None:
        return None
    clock = now_for(conn, now)  # the database's clock on PostgreSQL (shared/db/dbclock.py)
    conn.execute(delete(ws_tickets).where(ws_tickets.c.expires_at < clock))
    ticket = new_secret()
    expires_at = conn.execute(
        ws_tickets.insert()
        .values(ticket_hash=hash_secret(ticket), user_id=user_id, expires_at=clock + ttl_seconds)
        .returning(ws_tickets.c.expires_at)
    ).scalar_one()
    return ticket, expires_at


def ws_ticket_exists(conn: Connection, ticket: str) -> bool:
    """Whether a ticket is on file (used or expired ones are not, or not for long)."""
    return secret_on_file(conn, ws_tickets.c.ticket_hash, ticket)


def secret_on_file(conn: Connection, hash_column, secret: str) -> bool:  # noqa: ANN001
    """Whether a single-use secret (a ticket, a sign-in code) is on file: the read that
    lets a made-up one be refused without the write transaction that uses a real one up."""
    return conn.execute(select(hash_column).where(hash_column == hash_secret(secret))).first() is not None


def consume_ws_ticket(conn: Connection, ticket: str, *, now: float) -> dict[str, Any] | None:
    """Use up a ticket: the enabled user it was issued to, or None when it is unknown, used,
    or expired. Deleting the row is what makes it single-use, so call this in a write
    transaction."""
    return use_up_secret(conn, ws_tickets, ws_tickets.c.ticket_hash, ticket, now=now)


def use_up_secret(conn: Connection, table, hash_column, secret: str, *, now: float) -> dict[str, Any] | None:  # noqa: ANN001
    """Delete the row of a single-use secret (a ticket, a sign-in code) and return the
    enabled user it was issued to, or None when it is unknown, used, or expired (by the
    database's clock on PostgreSQL)."""
    expired = (table.c.expires_at < now_for(conn, now)).label("expired")
    row = conn.execute(
        delete(table).where(hash_column == hash_secret(secret)).returning(table.c.user_id, expired)
    ).first()
    if row is None or row.expired:
        return None
    user = select_user(conn, row.user_id)
    return user if user and not user["disabled"] else None
