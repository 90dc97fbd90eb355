"""GET /api/usage: LLM tokens spent per user per UTC day. Trainers see anyone's (or
everyone's); a trainee sees their own, whatever user_id says, so they can tell how much
of the daily budget is left (the same rule as the session list, web/auth.py)."""

from __future__ import annotations

from datetime import date, timedelta

from quart import Blueprint, current_app
from quart_schema import validate_querystring, validate_response

from shared.db.usage import select_usage
from shared.lib.clock import utc_now
from web.auth import require_user, sessions_user_filter
from web.errors import ApiError
from web.models import LLMUsage, UsageFilter

blueprint = Blueprint("usage", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _period(query_args: UsageFilter) -> tuple[date, date]:
    """The inclusive UTC days asked for, with the defaults filled in and checked."""
    last = query_args.to or utc_now().date()
    first = query_args.from_
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1) if last.toordinal() > DEFAULT_DAYS else date.min
    if first > last:
        raise ApiError(400, "invalid_request", "from: must not be after `to`.", "from")
    if (last - first).days >= MAX_DAYS:
        raise ApiError(400, "invalid_request", f"from: at most {MAX_DAYS} days can be asked for at once.", "from")
    return first, last


@blueprint.get("/api/usage")
@require_user
@validate_querystring(UsageFilter)
@validate_response(LLMUsage, 200)
async def get_usage(query_args: UsageFilter) -> LLMUsage:
    """Show the LLM tokens spent per user per UTC day, with totals and the daily budget.

    `from` and `to` are UTC days, both included (default: the last 30 days). A trainer
    may filter on user_id (default: everyone); a trainee always gets their own usage."""
    first, last = _period(query_args)
    user_id = sessions_user_filter(query_args.user_id)
    rows = await current_app.db.read(
        select_usage, first_day=first.isoformat(), last_day=last.isoformat(), user_id=user_id
    )
    days = [{**row, "total_tokens": row["prompt_tokens"] + row["completion_tokens"]} for row in rows]
    totals = {
        key: sum(day[key] for day in days) for key in ("prompt_tokens", "completion_tokens", "total_tokens", "replies")
    }
    budget = current_app.config["CHATTRAIN_SETTINGS"].llm_daily_token_budget_per_user
    return LLMUsage(
        user_id=user_id,
        first_day=first.isoformat(),
        last_day=last.isoformat(),
        days=days,
        totals=totals,
        daily_token_budget_per_user=budget or None,
    )
