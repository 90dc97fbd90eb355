"""Hot statements: written with SQLAlchemy Core, compiled once per dialect, executed
straight on the driver's connection.

The chat path runs a good many statements per message, and SQLAlchemy's execution layer
costs each of them many times what the driver's cursor does, even with a cached compiled
form (docs/performance.md, Design measurements). So the statements that run per message
are declared here as Core constructs (one definition, any dialect SQLAlchemy compiles
for) and executed by this thin wrapper inside whatever transaction the SQLAlchemy
Connection holds. Everything else keeps using `conn.execute`.

Only column types without bind or result processing (Integer, Text, Float) may appear in
these statements: the wrapper skips SQLAlchemy's type processing on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement


class Prepared:
    """A statement, or a function building one per dialect name (for dialect-specific
    constructs such as INSERT ... ON CONFLICT), compiled on first use."""

    __slots__ = ("_build", "_compiled")

    def __init__(self, statement: ClauseElement | Callable[[str], ClauseElement]):
        self._build = (
            statement if callable(statement) and not isinstance(statement, ClauseElement) else (lambda _name: statement)
        )
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _compile(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            form = self._build(dialect.name).compile(dialect=dialect)
            # Literal values in the statement become bind parameters with defaults.
            compiled = (str(form), form.positiontup, dict(form.params))
            self._compiled[dialect.name] = compiled
        return compiled

    def cursor(self, conn: Connection, params: Mapping[str, Any] | None = None):  # noqa: ANN201
        sql, positions, defaults = self._compile(conn)
        values = {**defaults, **params} if params else defaults
        args: Any = tuple(values[name] for name in positions) if positions is not None else values
        return conn.connection.driver_connection.execute(sql, args)

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Execute; return the number of rows changed."""
        return self.cursor(conn, params).rowcount

    def one(self, conn: Connection, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The first row as a dict, or None."""
        cursor = self.cursor(conn, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip((column[0] for column in cursor.description), row, strict=True))

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.cursor(conn, params).fetchall()

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        row = self.cursor(conn, params).fetchone()
        return None if row is None else row[0]


def upsert_insert(dialect_name: str):  # noqa: ANN201
    """The dialect's INSERT construct that supports ON CONFLICT (SQLite, PostgreSQL)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
