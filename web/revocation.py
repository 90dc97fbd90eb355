"""Revoked credentials reach the sockets opened with them.

An HTTP request checks its token on every call, but a chat socket is checked once, when
it opens. Disabling a user or rotating their token (`chattrain users ...`, from any
host) gives the user's row a new `credentials_revision`, from one sequence across all
users (shared/db/users.py). Each web process keeps the revision each of its sockets was
opened at and, twice a second while it has sockets open, reads the users revoked since
the last revision it saw: one indexed range read, which finds nothing almost always.
A socket opened at an older revision than its user's new one is refused any further
frame, gets an error frame `token_revoked`, and is closed with 1008 (policy violation).

A socket the web app opened with its session cookie is also closed when that browser
session ends: signed out (from any web process: the session's row is gone) or expired.
The same sweep reads, for the browser sessions of this process's cookie sockets, which
have ended (one read by primary key), and closes their sockets with an `error` frame
`signed_out` or `sign_in_expired` and close code 4401 (no longer signed in). A sign-out
through this process closes its own sockets at once, without waiting for the sweep.

The database is the only channel, so this holds for every web process on every host
that shares it, with no signal or message between processes. Like event ids, the
revisions rely on write transactions committing one at a time (SQLite's single writer);
see docs/security.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.conversation.frames import error_frame
from shared.db.browser_sessions import select_browser_sessions_ended
from shared.db.engine import DatabaseUnavailable
from shared.db.users import select_credentials_revoked_after, select_last_credentials_revision
from web.auth import CLOSE_UNAUTHORIZED
from web.database import Database

log = logging.getLogger("chattrain.web")

# A revocation (or a sign-out elsewhere, or an expiry) reaches every socket within this
# (plus the time to close it).
SWEEP_INTERVAL_SECONDS = 0.5
CLOSE_POLICY_VIOLATION = 1008
REVOKED_CODE = "token_revoked"
REVOKED_DETAIL = (
    "Your credentials were revoked (the token was rotated or the user disabled): "
    "this socket is closed. Sign in again with a valid token."
)


@dataclass(frozen=True)
class SocketEnding:
    """Why a socket's sign-in ended: its last `error` frame (code and text) and its close
    code and reason (docs/protocol.md)."""

    code: str
    detail: str
    close_code: int
    reason: str


REVOKED = SocketEnding(REVOKED_CODE, REVOKED_DETAIL, CLOSE_POLICY_VIOLATION, "credentials revoked")
SIGNED_OUT = SocketEnding(
    "signed_out",
    "This browser was signed out: this socket is closed. Open a sign-in link to sign in again.",
    CLOSE_UNAUTHORIZED,
    "signed out",
)
SIGN_IN_EXPIRED = SocketEnding(
    "sign_in_expired",
    "Your sign-in has expired: this socket is closed. Ask your trainer for a new sign-in link.",
    CLOSE_UNAUTHORIZED,
    "sign-in expired",
)
_BROWSER_ENDINGS = {"signed_out": SIGNED_OUT, "expired": SIGN_IN_EXPIRED}

# Marks a socket as ending and returns the coroutine that closes it saying why (see
# CredentialWatch.watch).
Revoke = Callable[[SocketEnding], Awaitable[None]]


@dataclass(eq=False)
class _Watched:
    """One watched socket: whose credentials, checked at which revision, and, when the
    web app's cookie signed it in, which browser session and until when."""

    user_id: str
    revision: int
    revoke: Revoke
    browser_session: str | None = None
    expires_at: float = 0.0


class CredentialWatch:
    """The sockets of this process by user and by browser session, and the sweep that
    closes a revoked user's, a signed-out browser's and an expired browser session's."""

    def __init__(self, db: Database):
        self._db = db
        self._sockets: dict[str, set[_Watched]] = {}  # by user id
        self._browser_sockets: dict[str, set[_Watched]] = {}  # by browser session (stored hash)
        self._revision_seen = 0
        # The newest revision seen for each user revoked while this process runs, so a
        # socket checked before a revocation but registered after its sweep is still caught.
        self._revoked_at: dict[str, int] = {}
        self._closing: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._revision_seen = await self._db.read(select_last_credentials_revision)
        self._task = asyncio.create_task(self._run(), name="credential-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def watch(self, user: dict[str, Any], revoke: Revoke) -> Callable[[], None]:
        """Watch a socket opened with `user`'s credentials (the row read when they were
        checked; with `browser_session` when the session cookie signed it in).
        `revoke(ending)` runs on the event loop when they stop being valid: it must mark
        the socket at once (its frames refused from then on) and return a coroutine that
        closes it saying why, which runs as a task of its own. Returns the function that
        stops watching, for when the socket closes."""
        if user.get("insecure"):  # insecure-dev's developer has no credentials to revoke
            return _nothing
        watched = _Watched(
            user["id"],
            user["credentials_revision"],
            revoke,
            user.get("browser_session"),
            user.get("browser_session_expires_at") or 0.0,
        )
        if self._revoked_at.get(watched.user_id, -1) > watched.revision:
            self._close(revoke, REVOKED)
            return _nothing
        self._sockets.setdefault(watched.user_id, set()).add(watched)
        if watched.browser_session is not None:
            self._browser_sockets.setdefault(watched.browser_session, set()).add(watched)
        return lambda: self._forget(watched)

    def _forget(self, watched: _Watched) -> None:
        for index, key in ((self._sockets, watched.user_id), (self._browser_sockets, watched.browser_session)):
            sockets = index.get(key)
            if sockets is not None:
                sockets.discard(watched)
                if not sockets:
                    del index[key]

    def _end(self, watched: _Watched, ending: SocketEnding) -> None:
        self._forget(watched)
        self._close(watched.revoke, ending)

    async def sweep(self) -> None:
        """Close the sockets of every user revoked since the last sweep, and those of
        browser sessions that were signed out or have expired."""
        revoked = await self._db.read(select_credentials_revoked_after, self._revision_seen)
        for user_id, revision in revoked:
            self._revision_seen = max(self._revision_seen, revision)
            self._revoked_at[user_id] = revision
            stale = [watched for watched in self._sockets.get(user_id, ()) if watched.revision < revision]
            for watched in stale:
                self._end(watched, REVOKED)
            if stale:
                log.info("credentials revoked user_id=%s sockets_closed=%d", user_id, len(stale))
        if self._browser_sockets:
            expiries = {key: next(iter(sockets)).expires_at for key, sockets in self._browser_sockets.items()}
            ended = await self._db.read(select_browser_sessions_ended, expiries, now=time.time())
            for session_hash, how in ended.items():
                self.end_browser_session(session_hash, _BROWSER_ENDINGS[how])

    def end_browser_session(self, session_hash: str, ending: SocketEnding = SIGNED_OUT) -> None:
        """Close this process's sockets signed in by that browser session (its stored
        hash) now: a sign-out here need not wait for the sweep."""
        sockets = list(self._browser_sockets.get(session_hash, ()))
        for watched in sockets:
            self._end(watched, ending)
        if sockets:
            log.info("browser session ended how=%s sockets_closed=%d", ending.code, len(sockets))

    def _close(self, revoke: Revoke, ending: SocketEnding) -> None:
        task = asyncio.get_running_loop().create_task(revoke(ending))
        self._closing.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._closing.discard)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
            if not self._sockets:
                continue  # nothing to close; a later sweep reads what was revoked meanwhile
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except DatabaseUnavailable:
                pass  # logged by the database handle, once per outage; the next sweep catches up
            except Exception:
                log.exception("credential sweep failed")


def _nothing() -> None:
    pass


async def close_revoked_socket(ws, stop_sending: Callable[[], None], ending: SocketEnding = REVOKED) -> None:  # noqa: ANN001
    """Stop the socket's other frames, say why it is being closed, and close it."""
    stop_sending()
    with contextlib.suppress(Exception):  # the client may be gone already
        await ws.send(error_frame(ending.code, ending.detail))
        await ws.close(ending.close_code, ending.reason)
