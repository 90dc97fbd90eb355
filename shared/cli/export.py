"""`chattrain export scores`: every scored session's numbers, as CSV or as xAPI
statements, for an organisation's reporting (shared/export). Sessions are read a page at
a time and written as they come, so an export of any size runs in little memory."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from shared.db.engine import DatabaseUnavailable, check_database, create_sync_engine
from shared.db.scored_sessions import iter_scored_sessions
from shared.export.scores_csv import write_scores_csv
from shared.export.xapi import write_statements
from shared.settings import load_settings


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file that appears whole: written under a temporary name beside it and
    renamed at the end, so a failed export never leaves half a file where the last one was."""
    if path is None:
        yield sys.stdout
        return
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        # newline="": the csv module writes its own line ends.
        with open(partial, "w", encoding="utf-8", newline="") as file:
            yield file
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


@click.group("export")
def export() -> None:
    """Export data for reporting."""


@export.command("scores")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only sessions that ended at or after this UTC date or time (YYYY-MM-DD[THH:MM:SS]).",
)
@click.option("--user-id", help="Only this trainee's sessions.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xapi"]),
    default="csv",
    show_default=True,
    help="csv: a row per session and criterion; xapi: a JSON array of xAPI 1.0.3 statements, one per session.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write to this file (default: standard output).",
)
@click.option(
    "--base-url",
    help="xapi: the deployment's public address, the actors' account homePage and the root of the activity ids "
    "(default: CHATTRAIN_PUBLIC_BASE_URL).",
)
def export_scores(since: datetime | None, user_id: str | None, fmt: str, output: Path | None, base_url: str | None):  # noqa: ANN201
    """Export the scores of every completed, scored session: overall and per rubric
    criterion (and the LLM's, when it graded). Never any text of a session."""
    settings = load_settings()
    base_url = (base_url or settings.public_base_url).rstrip("/")
    if fmt == "xapi":
        if not base_url:
            raise click.UsageError(
                "xapi needs the deployment's public address: set CHATTRAIN_PUBLIC_BASE_URL or pass --base-url"
            )
        if not base_url.startswith(("http://", "https://")):
            raise click.BadParameter("must start with http:// or https://", param_hint="--base-url")
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"no folder {output.parent}", param_hint="--output")
    url = settings.resolved_database_url
    try:
        check_database(url)
    except DatabaseUnavailable as error:
        raise click.ClickException(str(error)) from None
    since_iso = since.replace(tzinfo=UTC).isoformat(timespec="milliseconds") if since else None
    engine = create_sync_engine(url)
    try:
        sessions = iter_scored_sessions(engine, since=since_iso, user_id=user_id)
        with _output(output) as out:
            if fmt == "csv":
                count = write_scores_csv(sessions, out)
            else:
                count = write_statements(sessions, out, base_url=base_url)
    except (OperationalError, ProgrammingError) as error:
        raise click.ClickException(
            f"cannot read the database ({error.orig}); has `chattrain db upgrade` run?"
        ) from None
    finally:
        engine.dispose()
    click.echo(f"Exported {count} scored session{'' if count == 1 else 's'}.", err=True)
