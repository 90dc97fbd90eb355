"""What the LLM costs and how it is doing: tokens per user per UTC day, the optional
daily budget per user, and the outcome of the provider's latest call (for /api/health).

`record_reply`, `record_grading` and `record_failure` run inside a write transaction the
worker already has open (the one that stores the reply, the report or the failure), so
the accounting commits or rolls back with what it accounts for. Only stored replies are
counted: an attempt that failed part-way, or a duplicate run whose reply was dropped,
spent tokens the provider may bill but that are not recorded here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from shared.db import usage as usage_rows
from shared.lib.clock import utc_now
from shared.llm.base import LLMError, Usage

BUDGET_EXCEEDED = "llm_budget_exceeded"
# Failures that say nothing about the provider: it was not called, or the fault is ours.
NOT_PROVIDER_FAILURES = frozenset({BUDGET_EXCEEDED, "internal_error", "claim_lost"})


def utc_day(now: datetime | None = None) -> str:
    """The UTC date, YYYY-MM-DD: the day usage is counted on and the budget resets."""
    return (now or utc_now()).date().isoformat()


def _iso(now: datetime) -> str:
    return now.isoformat(timespec="milliseconds")


def record_reply(
    conn: Connection, *, session_id: int, provider: str, usage: Usage, now: datetime | None = None
) -> None:
    """A reply was stored: add its tokens to the session owner's day and mark the
    provider's last call as a success."""
    user_id = usage_rows.select_session_user_id(conn, session_id)
    _record_success(conn, user_id=user_id, provider=provider, usage=usage, replies=1, now=now or utc_now())


def record_grading(conn: Connection, *, user_id: str, provider: str, usage: Usage, now: datetime | None = None) -> None:
    """An LLM-graded report or an LLM-judged reply was stored: its tokens count for the
    trainee (not as a reply)."""
    _record_success(conn, user_id=user_id, provider=provider, usage=usage, replies=0, now=now or utc_now())


def _record_success(
    conn: Connection, *, user_id: str | None, provider: str, usage: Usage, replies: int, now: datetime
) -> None:
    if user_id is not None:
        usage_rows.upsert_llm_usage(
            conn,
            user_id=user_id,
            day=utc_day(now),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            replies=replies,
        )
    usage_rows.update_provider_success(conn, provider=provider, at=_iso(now))


def record_failure(conn: Connection, *, provider: str, code: str, now: datetime | None = None) -> None:
    """A call failed: mark the provider's last call as failed with `code`, unless the
    failure was not the provider's (the budget refused the call, or a bug of ours)."""
    if code in NOT_PROVIDER_FAILURES:
        return
    usage_rows.update_provider_failure(conn, provider=provider, at=_iso(now or utc_now()), error_code=code)


def check_daily_budget(engine: Engine, *, user_id: str, budget: int, now: datetime | None = None) -> None:
    """Raise a non-retryable LLMError `llm_budget_exceeded` when the user has already
    spent `budget` tokens (prompt plus completion) today, UTC. A budget of 0 is off and
    costs no query. The reply that crosses the budget is still written: the check is
    made before each call, and a call's size is only known afterwards."""
    if budget <= 0:
        return
    with engine.connect() as conn:
        used = usage_rows.select_tokens_used(conn, user_id, utc_day(now))
    if used >= budget:
        raise LLMError(
            BUDGET_EXCEEDED,
            f"today's LLM budget of {budget} tokens per trainee is used up ({used} used); it starts again at 00:00 UTC",
            retryable=False,
        )


def provider_health(status: dict[str, Any] | None) -> dict[str, Any]:
    """The provider_status row as /api/health shows it. `last_call_ok` is None before
    any call, else whether the most recent call (success or failure) succeeded."""
    status = status or {}
    success, failure = status.get("last_success_at"), status.get("last_failure_at")
    if success is None and failure is None:
        last_call_ok = None
    else:
        last_call_ok = success is not None and (failure is None or success >= failure)
    return {
        "last_call_ok": last_call_ok,
        "last_success_at": success,
        "last_failure_at": failure,
        "last_error_code": status.get("last_error_code"),
    }
