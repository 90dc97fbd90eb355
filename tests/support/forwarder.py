"""A TCP forwarder on loopback that a test can take away and bring back: the processes
under test reach PostgreSQL or Redis through it, so stopping it is a server that went
away (open connections reset, new ones refused) without touching the server itself,
which other tests share."""

from __future__ import annotations

import selectors
import socket
import threading

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
