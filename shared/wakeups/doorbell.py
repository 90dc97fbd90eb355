"""Doorbells: the wake-up's carrier on one machine, so a sleeping process is woken
instead of polling fast.

A sleeper binds a Unix datagram socket named `<role>-<pid>-<nonce>.sock` in the doorbell
folder; a waker sends one byte to every socket of that role. A wake-up carries no data:
it only says "look again", so a lost one costs at most the sleeper's fallback poll
interval. Several web processes and workers on the same data folder each get their own
socket. (With Redis or PostgreSQL the same role is played by BRPOP or LISTEN/NOTIFY.)
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

# Unix socket paths must fit in sockaddr_un (108 bytes on Linux, less elsewhere).
# The two roles: web processes sleep on "web" (new events) and workers on "worker" (jobs).
WEB_ROLE = "web"
WORKER_ROLE = "worker"

MAX_SOCKET_PATH_BYTES = 100


def doorbell_folder(preferred: Path) -> Path:
    """The folder for doorbell sockets: `preferred`, or a short folder in the system temp
    dir derived from it when socket paths there would be too long."""
    if len(str(preferred).encode()) + 40 <= MAX_SOCKET_PATH_BYTES:
        folder = preferred
    else:
        digest = hashlib.sha1(str(preferred).encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"chattrain-bells-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Doorbell:
    """A sleeper's socket. Not shared across forks.

    Two ways to sleep on it: an event loop watches `fileno()` and calls `drain()`; a
    thread or greenlet calls `wait_for_wakeup()`, which needs `receive_timeout_seconds`
    (the fallback poll). One waiter at a time: gevent refuses two on one socket."""

    def __init__(self, folder: Path, role: str, *, receive_timeout_seconds: float | None = None):
        self.folder = doorbell_folder(folder)
        self.path = self.folder / f"{role}-{os.getpid()}-{secrets.token_hex(3)}.sock"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(self.path))
        # Either way the descriptor itself is non-blocking (a timeout is kept by Python or
        # by gevent's hub), which drain() relies on.
        if receive_timeout_seconds is None:
            self.socket.setblocking(False)
        else:
            self.socket.settimeout(receive_timeout_seconds)

    def fileno(self) -> int:
        return self.socket.fileno()

    def drain(self) -> bool:
        """Consume pending wake-ups without waiting; True if there was at least one."""
        woken = False
        while True:
            try:
                # On the descriptor: a gevent socket's recv would wait out its timeout.
                os.read(self.socket.fileno(), 64)
                woken = True
            except (BlockingIOError, InterruptedError):
                return woken

    def wait_for_wakeup(self) -> bool:
        """Block until one wake-up arrives (True, that one consumed) or the receive timeout
        passes (False)."""
        try:
            self.socket.recv(64)
            return True
        except (TimeoutError, BlockingIOError, InterruptedError):
            return False

    def close(self) -> None:
        self.socket.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class DoorbellWaker:
    """Wakes every sleeper of one role. Caches the folder listing and re-reads it only when
    the folder changes (a sleeper came or went), looking at most every REFRESH_SECONDS: a
    sleeper that has just started may miss a wake-up for that long, which its own fallback
    poll covers, and a busy waker saves a stat call per wake-up."""

    REFRESH_SECONDS = 0.25

    def __init__(self, folder: Path, role: str):
        self.folder = doorbell_folder(folder)
        self.prefix = f"{role}-"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._listing_mtime_ns = -1
        self._checked_at = -1.0
        self._targets: list[str] = []

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._listing_mtime_ns != -1 and now - self._checked_at < self.REFRESH_SECONDS:
            return
        self._checked_at = now
        try:
            mtime_ns = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            self._targets = []
            return
        if mtime_ns != self._listing_mtime_ns:
            self._listing_mtime_ns = mtime_ns
            with os.scandir(self.folder) as entries:
                self._targets = [e.path for e in entries if e.name.startswith(self.prefix) and e.name.endswith(".sock")]

    def wake(self) -> int:
        """Send a wake-up to every sleeper; returns how many were reached."""
        self._refresh()
        reached = 0
        for target in self._targets:
            try:
                self._socket.sendto(b"\x01", target)
                reached += 1
            except BlockingIOError:
                reached += 1  # its buffer is full of wake-ups already: it will wake
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                    self._forget(target)
                else:
                    log.warning("doorbell wake-up to %s failed: %s", target, exc)
        return reached

    def _forget(self, target: str) -> None:
        # The sleeper died without cleaning up; remove its socket so nobody wakes it again.
        try:
            os.unlink(target)
        except FileNotFoundError:
            pass
        self._listing_mtime_ns = -1

    def close(self) -> None:
        self._socket.close()


class FoldingWaker:
    """Wakes for many writers, folding the wake-ups asked for while one is pending into it.

    The worker wakes the web processes after each write, hundreds of times a second
    under load, and each wake-up sends every web process for a look at the events. Here a
    thread of its own (a greenlet in the consumer) sends them: a wake-up asked for before
    it got to the last one costs nothing more. One is always sent after the last
    request, and after its write committed, so no event waits for the fallback poll."""

    def __init__(self, send: Callable[[], object]):
        self._send = send  # one wake-up's sending, e.g. DoorbellWaker.wake
        self._wanted = threading.Event()
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        if self._thread is None:
            with self._started:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="chattrain-waker", daemon=True)
                    self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                self._send()
            except Exception:
                log.exception("waking the web processes failed")
