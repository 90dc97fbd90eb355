"""The web process's database handle: reads run concurrently on pooled connections;
writes are funnelled through one lock, because SQLite has one writer at a time and
queueing in asyncio is cheaper than queueing on SQLite's busy timeout."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import BEGIN_MODE, create_web_engine

T = TypeVar("T")


class Database:
    def __init__(self, url: str):
        self.engine: AsyncEngine = create_web_engine(url)
        self._write_engine = self.engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        self._write_lock = asyncio.Lock()

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a data function in a read transaction."""
        async with self.engine.connect() as conn:
            result = await conn.run_sync(_call, fn, args, kwargs)
            await conn.rollback()
            return result

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a data function in a write transaction (BEGIN IMMEDIATE); commit on success."""
        async with self._write_lock:
            async with self._write_engine.begin() as conn:
                return await conn.run_sync(_call, fn, args, kwargs)

    async def close(self) -> None:
        await self.engine.dispose()


def _call(conn: Connection, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    return fn(conn, *args, **kwargs)
