"""`chattrain usage`: LLM tokens spent per user per UTC day, from a shell (the same
numbers as GET /api/usage)."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from shared.db.engine import create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.usage import select_usage
from shared.lib.clock import utc_now
from shared.settings import load_settings

COLUMNS = ("day", "user_id", "prompt_tokens", "completion_tokens", "total_tokens", "replies")
COUNTS = COLUMNS[2:]


def _usage_rows(user_id: str | None, first_day: str, last_day: str) -> list[dict]:
    url = load_settings().resolved_database_url
    upgrade_to_head(url)  # works on a database the servers have not migrated yet
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            rows = select_usage(conn, first_day=first_day, last_day=last_day, user_id=user_id)
    finally:
        engine.dispose()
    return [{**row, "total_tokens": row["prompt_tokens"] + row["completion_tokens"]} for row in rows]


@click.command("usage")
@click.option("--user-id", help="Only this user's usage (default: everyone's).")
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(1, 366), help="The last N UTC days, today included."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def usage(user_id: str | None, days: int, as_json: bool) -> None:
    """Show LLM tokens spent per user per UTC day, with totals and the daily budget."""
    last = utc_now().date()
    first = last - timedelta(days=days - 1)
    rows = _usage_rows(user_id, first.isoformat(), last.isoformat())
    totals = {key: sum(row[key] for row in rows) for key in COUNTS}
    budget = load_settings().llm_daily_token_budget_per_user
    if as_json:
        document = {
            "user_id": user_id,
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "days": [{key: row[key] for key in COLUMNS} for row in rows],
            "totals": totals,
            "daily_token_budget_per_user": budget or None,
        }
        click.echo(json.dumps(document, indent=2))
        return
    who = f"user {user_id}" if user_id else "all users"
    click.echo(f"LLM usage of {who}, {first.isoformat()} to {last.isoformat()} (UTC):")
    if not rows:
        click.echo("  No usage.")
    else:
        cells = [[str(row[key]) for key in COLUMNS] for row in rows]
        cells.append(["TOTAL", "", *(str(totals[key]) for key in COUNTS)])
        header = [key.upper() for key in COLUMNS]
        widths = [max(len(header[i]), *(len(line[i]) for line in cells)) for i in range(len(COLUMNS))]
        for line in [header, *cells]:
            click.echo("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if budget:
        click.echo(f"Daily budget: {budget} tokens per user per UTC day (CHATTRAIN_LLM_DAILY_TOKEN_BUDGET_PER_USER).")
    else:
        click.echo("No daily budget (CHATTRAIN_LLM_DAILY_TOKEN_BUDGET_PER_USER=0).")
