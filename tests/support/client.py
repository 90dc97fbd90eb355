"""A small WebSocket client that speaks the chat protocol, for tests and the benchmark."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

SOCKET_SUBPROTOCOL = "chattrain.v1"


@dataclass(frozen=True)
class AuthUser:
    """A user the tests created, with the ways a client presents their token."""

    id: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer_headers(self.token)

    @property
    def subprotocols(self) -> list[str]:
        return socket_subprotocols(self.token)


def bearer_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def socket_subprotocols(token: str) -> list[str]:
    """What a browser offers to open the chat socket with a token."""
    return [SOCKET_SUBPROTOCOL, f"bearer.{token}"]


def open_socket(
    client, path: str, user: AuthUser | None = None, *, subprotocols: list[str] | None = None, **kwargs: Any
):  # noqa: ANN001, ANN201
    """Open a chat socket on Quart's test client, offering `user`'s token the way a browser
    does. Quart's test client drops its own `subprotocols` argument (it never reaches the
    ASGI scope), so they go into the scope here, as a real server puts them."""
    if subprotocols is None:
        # A client that offers none gets the original protocol (replies only).
        subprotocols = user.subprotocols if user is not None else [SOCKET_SUBPROTOCOL]
    if subprotocols:
        kwargs["scope_base"] = {**kwargs.get("scope_base", {}), "subprotocols": subprotocols}
    return client.websocket(path, **kwargs)


async def read_session_start(ws, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ANN001
    """Read the frame the server sends by itself on connect, session_start, from a socket
    of Quart's test client."""
    frame = json.loads(await asyncio.wait_for(ws.receive(), timeout))
    assert frame["type"] == "session_start", frame
    return frame


async def frames_until_pong(ws, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ANN001
    """Send a ping on a socket of Quart's test client and collect every frame before its
    pong: proves the socket is still usable, and shows what the server sent before it."""
    await ws.send(json.dumps({"type": "ping"}))
    received = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.receive(), timeout))
        if frame["type"] == "pong":
            return received
        received.append(frame)


async def create_session(
    base_url: str, scenario: int | str = "customer-service", user_id: str | None = None, *, token: str | None = None
) -> dict:
    """Start a session as the token's user (user_id, when given, goes in the body too)."""
    body: dict[str, Any] = {"scenario_id": scenario}
    if user_id is not None:
        body["user_id"] = user_id
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=bearer_headers(token)) as http:
        response = await http.post("/api/sessions", json=body)
        response.raise_for_status()
        return response.json()


class ChatClient:
    def __init__(self, ws: websockets.ClientConnection):
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, url: str, *, token: str | None = None, **kwargs: Any) -> ChatClient:
        """Open the socket; with a token, authenticate the way a browser can (subprotocols)."""
        # Ours, offered like a browser (a client that offers none gets the original
        # protocol: replies only, tests/e2e/test_seed_client.py).
        kwargs.setdefault("subprotocols", socket_subprotocols(token) if token is not None else [SOCKET_SUBPROTOCOL])
        return cls(await websockets.connect(url, max_size=2**22, **kwargs))

    async def send(self, type: str, content: str = "", **metadata: Any) -> None:
        await self.ws.send(json.dumps({"type": type, "content": content, "metadata": metadata}))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.received.append(frame)
        return frame

    async def recv_until(self, type: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """Receive frames until one of `type` (whose fields equal `match`) arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(deadline - loop.time(), 0.001))
            if frame["type"] == type and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def reply_to(self, message_id: int, timeout: float = 10.0) -> dict[str, Any]:
        """Receive frames until the assistant_message answering `message_id`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(deadline - loop.time(), 0.001))
            if frame["type"] == "assistant_message" and frame["metadata"].get("reply_to") == message_id:
                return frame
            if frame["type"] == "error" and frame.get("reply_to") == message_id:
                raise AssertionError(f"reply failed: {frame}")

    async def say(self, content: str, timeout: float = 10.0, **metadata: Any) -> tuple[dict, dict]:
        """Send a trainee message; return its ack and the customer's reply frame."""
        await self.send("user_message", content, **metadata)
        ack = await self.recv_until("message_ack", timeout)
        return ack, await self.reply_to(ack["message_id"], timeout)

    async def close(self) -> None:
        await self.ws.close()
