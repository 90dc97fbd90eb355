"""Sign-in links and browser sessions: how a person signs in to the web app without ever
handling an API token.

A trainer (in the People view, or with `chattrain users sign-in-link`) stores a
single-use code (valid 7 days by default) and hands out a link holding it; the page
exchanges the code for a browser session whose secret lives only in an HttpOnly cookie. Codes and session secrets are 256 random bits stored as SHA-256
hashes, like tokens (shared/db/users.py says why a fast hash is enough).

A browser session is valid while it has not expired, its user is enabled, and the user's
credentials_revision is the one it was made at: disabling a user or rotating their token
signs every browser out too. The CSRF token a page sends with its writes is derived from
the session secret, so nothing more is stored for it."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, delete, select, update

from shared.db.dbclock import now_for, select_now
from shared.db.schema import browser_sessions, sign_in_codes, users
from shared.db.users import hash_secret, new_secret, secret_on_file, select_user, use_up_secret
from shared.lib.clock import utc_now_iso

# Hashes or ids per statement: far below every driver's limit on bound parameters.
_HASHES_PER_READ = _IDS_PER_STATEMENT = 500


def csrf_token_for(session_secret: str) -> str:
    """The CSRF token of a browser session: public to its page, useless without the cookie."""
    return hashlib.sha256(b"chattrain-csrf:" + session_secret.encode("utf-8", "surrogatepass")).hexdigest()


def sign_in_link_url(base_url: str, code: str) -> str:
    """The link that carries a sign-in code, in the fragment, which browsers never send to
    a server (the web app posts it to /api/sign-in)."""
    return f"{base_url.rstrip('/')}/#sign-in={code}"


def insert_sign_in_code(conn: Connection, user_id: str, *, now: float, ttl_seconds: float) -> str | None:
    """A new single-use sign-in code for an enabled user, or None when there is no such
    user or they are disabled. Expired codes are pruned here."""
    user = select_user(conn, user_id)
    if user is None or user["disabled"]:
        return None
    clock = now_for(conn, now)  # the database's clock on PostgreSQL (shared/db/dbclock.py)
    conn.execute(delete(sign_in_codes).where(sign_in_codes.c.expires_at < clock))
    code = new_secret()
    conn.execute(
        sign_in_codes.insert().values(code_hash=hash_secret(code), user_id=user_id, expires_at=clock + ttl_seconds)
    )
    return code


def insert_sign_in_codes(
    conn: Connection, user_ids: list[str], *, now: float, ttl_seconds: float
) -> dict[str, tuple[str, float]]:
    """A new single-use sign-in code for each of these users that exists and is enabled:
    user id -> (code, expires_at epoch). Each one's earlier unused codes are deleted, so
    only the newest link handed out works (a lost link is ended by making another).
    Expired codes are pruned once for the lot."""
    wanted = list(dict.fromkeys(user_ids))
    enabled: set[str] = set()
    for start in range(0, len(wanted), _IDS_PER_STATEMENT):
        chunk = wanted[start : start + _IDS_PER_STATEMENT]
        rows = conn.execute(select(users.c.id).where(users.c.id.in_(chunk), users.c.disabled.is_(False)))
        enabled.update(row.id for row in rows)
        conn.execute(delete(sign_in_codes).where(sign_in_codes.c.user_id.in_(chunk)))
    # One reading of the clock (the database's on PostgreSQL) for the whole batch.
    clock = select_now(conn, now)
    conn.execute(delete(sign_in_codes).where(sign_in_codes.c.expires_at < clock))
    codes = {user_id: (new_secret(), clock + ttl_seconds) for user_id in wanted if user_id in enabled}
    if codes:
        conn.execute(
            sign_in_codes.insert(),
            [
                {"code_hash": hash_secret(code), "user_id": user_id, "expires_at": expires_at}
                for user_id, (code, expires_at) in codes.items()
            ],
        )
    return codes


def sign_in_code_exists(conn: Connection, code: str) -> bool:
    """Whether a sign-in code is on file (a read): a wrong one needs no write to refuse."""
    return secret_on_file(conn, sign_in_codes.c.code_hash, code)


def exchange_sign_in_code(
    conn: Connection, code: str, *, now: float, session_ttl_seconds: float
) -> tuple[dict[str, Any], str] | None:
    """Use up a sign-in code: (the user, a new browser session's secret), or None when the
    code is unknown, used, expired, or its user is disabled. Deleting the row is what makes
    it single-use, so call this in a write transaction."""
    user = use_up_secret(conn, sign_in_codes, sign_in_codes.c.code_hash, code, now=now)
    if user is None:
        return None
    return user, open_browser_session(conn, user, now=now, session_ttl_seconds=session_ttl_seconds)


def open_browser_session(conn: Connection, user: dict[str, Any], *, now: float, session_ttl_seconds: float) -> str:
    """Sign `user` in on a browser (by a link or through the organisation's provider):
    record the sign-in (the People list shows who never signed in), drop expired
    sessions, and return the new session's secret, for the cookie."""
    conn.execute(update(users).where(users.c.id == user["id"]).values(last_sign_in_at=utc_now_iso()))
    clock = now_for(conn, now)  # the database's clock on PostgreSQL (shared/db/dbclock.py)
    conn.execute(delete(browser_sessions).where(browser_sessions.c.expires_at < clock))
    secret = new_secret()
    conn.execute(
        browser_sessions.insert().values(
            session_hash=hash_secret(secret),
            user_id=user["id"],
            credentials_revision=user["credentials_revision"],
            expires_at=clock + session_ttl_seconds,
        )
    )
    return secret


def select_user_by_browser_session(conn: Connection, secret: str, *, now: float) -> dict[str, Any] | None:
    """The user a browser session's secret signs in, or None when it is unknown, expired,
    its user disabled, or their credentials revoked since it was made. The user carries
    `browser_session` (the session's stored hash) and `browser_session_expires_at`."""
    row = conn.execute(
        select(users, browser_sessions.c.expires_at.label("browser_session_expires_at"))
        .join(browser_sessions, browser_sessions.c.user_id == users.c.id)
        .where(
            browser_sessions.c.session_hash == hash_secret(secret),
            browser_sessions.c.expires_at >= now_for(conn, now),
            browser_sessions.c.credentials_revision == users.c.credentials_revision,
            users.c.disabled.is_(False),
        )
    ).first()
    if row is None:
        return None
    user = dict(row._mapping)
    user.pop("token_hash", None)
    user["disabled"] = False
    # Which browser session signed this in, for the sockets it opens (web/revocation.py).
    user["browser_session"] = hash_secret(secret)
    return user


def delete_browser_session(conn: Connection, secret: str) -> bool:
    """Sign a browser out: its session stops working at once. False if there was none."""
    return (
        conn.execute(delete(browser_sessions).where(browser_sessions.c.session_hash == hash_secret(secret))).rowcount
        == 1
    )


def select_browser_sessions_ended(conn: Connection, expiries: dict[str, float], *, now: float) -> dict[str, str]:
    """Which of these browser sessions (stored hash -> the expiry read when it signed a
    socket in) have ended since, and how: "signed_out" when its row is gone (signed out
    by any web process), "expired" once its expiry has passed (by the database's clock on
    PostgreSQL). Live ones are left out: usually the answer is empty."""
    clock = select_now(conn, now)
    hashes = list(expiries)
    stored: dict[str, float] = {}
    for start in range(0, len(hashes), _HASHES_PER_READ):
        chunk = hashes[start : start + _HASHES_PER_READ]
        rows = conn.execute(
            select(browser_sessions.c.session_hash, browser_sessions.c.expires_at).where(
                browser_sessions.c.session_hash.in_(chunk)
            )
        )
        stored.update((row.session_hash, row.expires_at) for row in rows)
    ended = {}
    for session_hash, known_expiry in expiries.items():
        expires_at = stored.get(session_hash)
        if expires_at is not None and expires_at >= clock:
            continue
        # A row pruned after expiring looks like a sign-out; the expiry read at sign-in tells them apart.
        expiry = known_expiry if expires_at is None else expires_at
        ended[session_hash] = "expired" if expiry < clock else "signed_out"
    return ended
