"""Quart's per-socket ASGI handler with a lighter receive queue.

Quart hands each received frame from its ASGI receiver task to the handler through an
asyncio.Queue: four deques and an Event, held by every open socket for its whole life
(docs/performance.md, Design measurements). One consumer reads it (the handler's
`websocket.receive()`), nothing bounds it, and nobody joins it, so a list and one future
do the same job."""

from __future__ import annotations

import asyncio
from typing import Any

from quart.asgi import ASGIWebsocketConnection


class ReceiveQueue:
    """An unbounded FIFO with one consumer: the `put`/`get` of asyncio.Queue that Quart uses."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def qsize(self) -> int:
        return len(self._items)


class LeanWebsocketConnection(ASGIWebsocketConnection):
    def __init__(self, app, scope) -> None:  # noqa: ANN001
        super().__init__(app, scope)
        self.queue = ReceiveQueue()  # type: ignore[assignment]
