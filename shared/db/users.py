"""The users and ws_tickets tables: who may use the API, and the short-lived tickets a
browser uses to open the chat socket.

Tokens and tickets are random (`secrets.token_urlsafe(32)`: 256 bits), shown once, and
stored only as a SHA-256 hash. A plain, fast hash is enough here: slow, salted hashes
(bcrypt, argon2) exist to stop guessing of low-entropy passwords from a stolen hash, and
no one can guess through 2**256 possibilities however fast each guess is. A fast hash
also lets the hash be the lookup key (one indexed read per request)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from shared.clock import utc_now_iso
from shared.db.schema import users, ws_tickets

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
    if select_user(conn, user_id) is not None:
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


def update_user_disabled(conn: Connection, user_id: str, *, disabled: bool = True) -> bool:
    """Disable (or re-enable) a user; their token stops working at once. False if unknown."""
    result = conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
    if disabled:
        conn.execute(delete(ws_tickets).where(ws_tickets.c.user_id == user_id))
    return result.rowcount == 1


def update_user_token(conn: Connection, user_id: str) -> str | None:
    """Give a user a new token (the old one stops working) and return it; None if unknown."""
    token = new_secret()
    result = conn.execute(update(users).where(users.c.id == user_id).values(token_hash=hash_secret(token)))
    return token if result.rowcount == 1 else None


def insert_ws_ticket(conn: Connection, *, user_id: str, now: float, ttl_seconds: float) -> tuple[str, float]:
    """Issue a single-use socket ticket for a user; returns (ticket, expires_at epoch).
    Expired tickets are pruned here, so the table holds only the last minute's."""
    conn.execute(delete(ws_tickets).where(ws_tickets.c.expires_at < now))
    ticket = new_secret()
    expires_at = now + ttl_seconds
    conn.execute(ws_tickets.insert().values(ticket_hash=hash_secret(ticket), user_id=user_id, expires_at=expires_at))
    return ticket, expires_at


def ws_ticket_exists(conn: Connection, ticket: str) -> bool:
    """Whether a ticket is on file (used or expired ones are not, or not for long)."""
    return conn.execute(select(ws_tickets.c.ticket_hash).where(ws_tickets.c.ticket_hash == hash_secret(ticket))).first() is not None


def consume_ws_ticket(conn: Connection, ticket: str, *, now: float) -> dict[str, Any] | None:
    """Use up a ticket: the enabled user it was issued to, or None when it is unknown, used,
    or expired. Deleting the row is what makes it single-use, so call this in a write
    transaction."""
    row = conn.execute(
        delete(ws_tickets)
        .where(ws_tickets.c.ticket_hash == hash_secret(ticket))
        .returning(ws_tickets.c.user_id, ws_tickets.c.expires_at)
    ).first()
    if row is None or row.expires_at < now:
        return None
    user = select_user(conn, row.user_id)
    return user if user and not user["disabled"] else None
