"""Revoked credentials reach the sockets opened with them.

An HTTP request checks its token on every call, but a chat socket is checked once, when
it opens. Disabling a user or rotating their token (`chattrain users ...`, from any
host) gives the user's row a new `credentials_revision`, from one sequence across all
users (shared/db/users.py). Each web process keeps the revision each of its sockets was
opened at and, twice a second while it has sockets open, reads the users revoked since
the last revision it saw: one indexed range read, which finds nothing almost always.
A socket opened at an older revision than its user's new one is refused any further
frame, gets an error frame `token_revoked`, and is closed with 1008 (policy violation).

The database is the only channel, so this holds for every web process on every host
that shares it, with no signal or message between processes. Like event ids, the
revisions rely on write transactions committing one at a time (SQLite's single writer);
see docs/security.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shared.db.users import select_credentials_revoked_after, select_last_credentials_revision
from web.database import Database
from web.frames import error_frame

log = logging.getLogger("chattrain.web")

# A revocation reaches every socket within this (plus the time to close it).
SWEEP_INTERVAL_SECONDS = 0.5
CLOSE_POLICY_VIOLATION = 1008
REVOKED_CODE = "token_revoked"
REVOKED_DETAIL = (
    "Your credentials were revoked (the token was rotated or the user disabled): "
    "this socket is closed. Sign in again with a valid token."
)

# Marks a socket revoked and returns the coroutine that closes it (see CredentialWatch.watch).
Revoke = Callable[[], Awaitable[None]]


class CredentialWatch:
    """The sockets of this process by user, and the sweep that closes a revoked user's."""

    def __init__(self, db: Database):
        self._db = db
        # user id -> {socket key: (the revision its credentials were checked at, revoke)}
        self._sockets: dict[str, dict[object, tuple[int, Revoke]]] = {}
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
        checked). `revoke()` runs on the event loop when they are revoked: it must mark
        the socket at once (its frames refused from then on) and return a coroutine that
        closes it, which runs as a task of its own. Returns the function that stops
        watching, for when the socket closes."""
        if user.get("insecure"):  # insecure-dev's developer has no credentials to revoke
            return _nothing
        user_id, revision = user["id"], user["credentials_revision"]
        if self._revoked_at.get(user_id, -1) > revision:
            self._close(revoke)
            return _nothing
        key = object()
        self._sockets.setdefault(user_id, {})[key] = (revision, revoke)

        def unwatch() -> None:
            sockets = self._sockets.get(user_id)
            if sockets is not None:
                sockets.pop(key, None)
                if not sockets:
                    del self._sockets[user_id]

        return unwatch

    async def sweep(self) -> None:
        """Close the sockets of every user revoked since the last sweep."""
        revoked = await self._db.read(select_credentials_revoked_after, self._revision_seen)
        for user_id, revision in revoked:
            self._revision_seen = max(self._revision_seen, revision)
            self._revoked_at[user_id] = revision
            sockets = self._sockets.get(user_id, {})
            stale = [key for key, (checked_at, _) in sockets.items() if checked_at < revision]
            for key in stale:
                self._close(sockets.pop(key)[1])
            if not sockets:
                self._sockets.pop(user_id, None)
            if stale:
                log.info("credentials revoked user_id=%s sockets_closed=%d", user_id, len(stale))

    def _close(self, revoke: Revoke) -> None:
        task = asyncio.get_running_loop().create_task(revoke())
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
            except Exception:
                log.exception("credential sweep failed")


def _nothing() -> None:
    pass


async def close_revoked_socket(ws, stop_sending: Callable[[], None]) -> None:  # noqa: ANN001
    """Stop the socket's other frames, say why it is being closed, and close it."""
    stop_sending()
    with contextlib.suppress(Exception):  # the client may be gone already
        await ws.send(error_frame(REVOKED_CODE, REVOKED_DETAIL))
        await ws.close(CLOSE_POLICY_VIOLATION, "credentials revoked")
