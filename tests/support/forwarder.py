"""A TCP forwarder on loopback that a test can take away and bring back: the processes
under test reach PostgreSQL or Redis through it, so stopping it is a server that went
away (open connections reset, new ones refused) without touching the server itself,
which other tests share."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from tests.support.servers import Backends
from tests.support.stack import free_port

_CHUNK = 65536


class Forwarder:
    """Forwards 127.0.0.1:`port` to `upstream` on one thread. `take_away()` closes the
    listening socket and every forwarded connection; `bring_back()` listens again on the
    same port."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._peers: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"forwarder-{self.port}", daemon=True)

    def __enter__(self) -> Forwarder:
        self.bring_back()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        self.take_away()
        self._thread.join(timeout=5)

    def bring_back(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.setblocking(False)
        with self._lock:
            self._listener = listener
            self._selector.register(listener, selectors.EVENT_READ)

    def take_away(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
            for sock in list(self._peers):
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for each in (sock, peer):
            if each is None:
                continue
            self._peers.pop(each, None)
            try:
                self._selector.unregister(each)
            except (KeyError, ValueError):
                pass
            try:
                # A reset, as a server that went away leaves its clients.
                each.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            each.close()

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._peers[client], self._peers[server] = server, client
        self._selector.register(client, selectors.EVENT_READ)
        self._selector.register(server, selectors.EVENT_READ)

    def _pump(self, sock: socket.socket) -> None:
        peer = self._peers.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(_CHUNK)
            if data:
                peer.setblocking(True)
                peer.sendall(data)
                peer.setblocking(False)
                return
        except OSError:
            pass
        self._drop(sock)

    def _run(self) -> None:
        while not self._stopping:
            events = self._selector.select(timeout=0.2)
            with self._lock:
                for key, _ in events:
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept(sock)
                    elif sock in self._peers:
                        self._pump(sock)


def address_of(url: str) -> tuple[str, int]:
    """The host and port a PostgreSQL or Redis URL names."""
    if url.startswith("redis"):
        parts = urlsplit(url)
        return parts.hostname or "127.0.0.1", parts.port or 6379
    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def through(url: str, port: int) -> str:
    """`url` with its port replaced: the same server, reached through a forwarder."""
    if url.startswith("redis"):
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"{netloc[-1].rsplit(':', 1)[0]}:{port}"
        return urlunsplit(parts._replace(netloc="@".join([*netloc[:-1], host])))
    return make_url(url).set(port=port).render_as_string(hide_password=False)


@contextmanager
def routed_through_forwarders(backends: Backends) -> Iterator[tuple[Backends, dict[str, Forwarder]]]:
    """`backends` (PostgreSQL and Redis) reached through a forwarder each: the backends
    to give the processes, and the forwarders by server (`postgresql`, `redis`)."""
    with ExitStack() as cleanup:
        database = cleanup.enter_context(Forwarder(address_of(backends.database_url)))
        queue = cleanup.enter_context(Forwarder(address_of(backends.queue_url)))
        yield (
            Backends(
                backends.name,
                database_url=through(backends.database_url, database.port),
                queue_url=through(backends.queue_url, queue.port),
                redis_key_prefix=backends.redis_key_prefix,
            ),
            {"postgresql": database, "redis": queue},
        )
