"""`chattrain users erase USER_ID`: remove every row of a trainee's in one transaction,
keeping their users row as a tombstone (shared/db/erasure.py says what stays and why).
Without --yes it only counts what would go."""

from __future__ import annotations

import click

from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.erasure import ErasureNotCovered, ErasureResult, count_user_rows, erase_user
from shared.db.migrate import upgrade_to_head
from shared.lib.clock import utc_now_iso
from shared.settings import load_settings


def _in_transaction(fn, user_id: str, *, write: bool) -> ErasureResult:  # noqa: ANN001
    url = load_settings().resolved_database_url
    upgrade_to_head(url)  # the tables erased are those of the newest schema
    engine = create_sync_engine(url)
    try:
        with engine.execution_options(**{BEGIN_MODE: "IMMEDIATE" if write else "DEFERRED"}).begin() as conn:
            return fn(conn, user_id)
    except ErasureNotCovered as error:
        raise click.ClickException(f"nothing erased: {error}") from None
    finally:
        engine.dispose()


def _describe(result: ErasureResult) -> list[str]:
    lines = [f"  {table:<18} {count}" for table, count in result.rows.items()]
    if result.has_user_row:
        lines.append("  users              1 kept as a tombstone: disabled, a token no one has, name and times emptied")
    return lines


@click.command("erase")
@click.argument("user_id")
@click.option("--yes", is_flag=True, help="Erase: without it, only print what would be removed.")
def erase(user_id: str, yes: bool) -> None:
    """Remove USER_ID's sessions, messages, events, reports, reply jobs, LLM usage,
    sign-in links, browser sessions and tickets, in one transaction. Their users row
    stays as a tombstone (disabled, nameless, the id never given to anyone else) and their
    open sockets close within a second. Without --yes, print the rows per table and stop."""
    if not yes:
        result = _in_transaction(count_user_rows, user_id, write=False)
        if not result.has_user_row and not result.total:
            raise click.ClickException(f"no user {user_id!r} and no rows of theirs")
        click.echo(f"Erasing {user_id} would remove:")
        for line in _describe(result):
            click.echo(line)
        raise click.ClickException("nothing was removed: run again with --yes to erase")
    result = _in_transaction(erase_user, user_id, write=True)
    if not result.has_user_row and not result.total:
        raise click.ClickException(f"no user {user_id!r} and no rows of theirs")
    # The audit line: who and when, and counts; nothing they wrote.
    click.echo(f"Erased {user_id} at {result.erased_at or utc_now_iso()}, {result.total} rows removed:")
    for line in _describe(result):
        click.echo(line)
