"""One clock for every host: the database's, on PostgreSQL.

Claims on reply jobs, tickets, sign-in codes and browser sessions expire at a time one
process wrote and another compares. On one machine (SQLite) every process shares the
clock, so the caller's `now` is used as it is. Across hosts each machine's clock drifts
its own way, so on PostgreSQL these comparisons and expiry times are computed by the
server from its own clock (`clock_timestamp()`, in the same statement: no extra round
trip) and the caller's `now` is not used."""

from __future__ import annotations

from sqlalchemy import Connection, Float, bindparam, cast, func, literal, select
from sqlalchemy.sql import ColumnElement


def server_now(dialect_name: str, local: ColumnElement) -> ColumnElement:
    """Epoch seconds: `local` (the caller's clock) on SQLite, the server's on PostgreSQL."""
    if dialect_name == "postgresql":
        return cast(func.extract("epoch", func.clock_timestamp()), Float)
    return local


def now_for(conn: Connection, now: float) -> ColumnElement:
    """`now` as an SQL value for a statement built at call time: the caller's time on
    SQLite, the database server's on PostgreSQL."""
    return server_now(conn.dialect.name, literal(now, Float))


def now_param(dialect_name: str, name: str = "b_now") -> ColumnElement:
    """For a statement prepared per dialect (shared/db/prepared.py): the bound `name` on
    SQLite, the server's clock on PostgreSQL (the bound value is then ignored)."""
    return server_now(dialect_name, bindparam(name))


def select_now(conn: Connection, local: float) -> float:
    """Epoch seconds to compare stored times with: `local` on SQLite, the database
    server's clock on PostgreSQL (one round trip)."""
    if conn.dialect.name != "postgresql":
        return local
    return conn.execute(select(server_now("postgresql", literal(local, Float)))).scalar_one()
