"""The llm_usage and provider_status tables: tokens spent per user per UTC day, and how
each provider's latest calls went.

Days are ISO dates (YYYY-MM-DD) in UTC, so comparing the text compares the days."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from shared.db.prepared import Prepared, upsert_insert
from shared.db.schema import llm_usage, provider_status, sessions

# These run with every stored reply: prepared once (shared/db/prepared.py).
_SESSION_USER = Prepared(select(sessions.c.user_id).where(sessions.c.id == bindparam("session_id")))
_USAGE_FIELDS = ("user_id", "day", "prompt_tokens", "completion_tokens", "replies")


def _build_add_usage(dialect_name: str):  # noqa: ANN202
    table = llm_usage
    statement = upsert_insert(dialect_name)(table).values({name: bindparam(f"b_{name}") for name in _USAGE_FIELDS})
    return statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.day],
        set_={
            "prompt_tokens": table.c.prompt_tokens + statement.excluded.prompt_tokens,
            "completion_tokens": table.c.completion_tokens + statement.excluded.completion_tokens,
            "replies": table.c.replies + statement.excluded.replies,
        },
    )


def _build_provider_success(dialect_name: str):  # noqa: ANN202
    statement = upsert_insert(dialect_name)(provider_status).values(
        provider=bindparam("b_provider"), last_success_at=bindparam("b_at")
    )
    return statement.on_conflict_do_update(
        index_elements=[provider_status.c.provider], set_={"last_success_at": statement.excluded.last_success_at}
    )


_ADD_USAGE = Prepared(_build_add_usage)
_PROVIDER_SUCCESS = Prepared(_build_provider_success)


def select_session_user_id(conn: Connection, session_id: int) -> str | None:
    """Whose session this is, or None for an unknown session."""
    return _SESSION_USER.scalar(conn, {"session_id": session_id})


def upsert_llm_usage(
    conn: Connection, *, user_id: str, day: str, prompt_tokens: int, completion_tokens: int, replies: int = 1
) -> None:
    """Add one call's tokens (and `replies` replies) to the user's row for `day`."""
    values = {
        "user_id": user_id,
        "day": day,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "replies": replies,
    }
    _ADD_USAGE.run(conn, {f"b_{name}": value for name, value in values.items()})


def select_tokens_used(conn: Connection, user_id: str, day: str) -> int:
    """Prompt plus completion tokens the user has spent on `day` (0 when none)."""
    total = conn.execute(
        select(llm_usage.c.prompt_tokens + llm_usage.c.completion_tokens).where(
            llm_usage.c.user_id == user_id, llm_usage.c.day == day
        )
    ).scalar_one_or_none()
    return total or 0


def select_usage(
    conn: Connection, *, first_day: str, last_day: str, user_id: str | None = None
) -> list[dict[str, Any]]:
    """Usage rows from `first_day` to `last_day` inclusive, oldest day first, then by
    user; one user's when `user_id` is given, everyone's otherwise."""
    query = (
        select(llm_usage)
        .where(llm_usage.c.day >= first_day, llm_usage.c.day <= last_day)
        .order_by(llm_usage.c.day, llm_usage.c.user_id)
    )
    if user_id is not None:
        query = query.where(llm_usage.c.user_id == user_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def update_provider_success(conn: Connection, *, provider: str, at: str) -> None:
    """Record that a call to `provider` succeeded at `at` (ISO 8601 UTC)."""
    _PROVIDER_SUCCESS.run(conn, {"b_provider": provider, "b_at": at})


def update_provider_failure(conn: Connection, *, provider: str, at: str, error_code: str) -> None:
    """Record that a call to `provider` failed at `at` with `error_code`."""
    values = {"last_failure_at": at, "last_error_code": error_code}
    statement = upsert_insert(conn.dialect.name)(provider_status).values(provider=provider, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=[provider_status.c.provider], set_=values))


def select_provider_status(conn: Connection, provider: str) -> dict[str, Any] | None:
    """`{provider, last_success_at, last_failure_at, last_error_code}`, or None before
    the provider's first call."""
    row = conn.execute(select(provider_status).where(provider_status.c.provider == provider)).first()
    return dict(row._mapping) if row else None
