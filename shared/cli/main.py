"""The `chattrain` command: check scenario files, read sessions, transcripts and reports,
and migrate the database, from a shell.

It reads the same CHATTRAIN_* settings as the servers and uses the same data functions,
on the synchronous engine. Command groups live here; another module can add its own
with `main.add_command(group)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from shared.conversation.records import select_session_record, transcript_json, transcript_markdown
from shared.db import reports as report_rows
from shared.db import sessions as session_rows
from shared.db.engine import DatabaseUnavailable, check_database, create_sync_engine, shown_url
from shared.db.migrate import upgrade_to_head
from shared.db.scenario_rows import select_scenario_ids
from shared.scenarios import ScenarioLoadError, load_scenario, load_scenarios
from shared.scenarios.loader import SCENARIO_FILENAMES
from shared.settings import Settings, render_settings_doc
from shared.training.tryout import SampleFileError, example_replies, read_sample_file, try_replies, warnings_for


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ChatTrain from the command line. Settings come from CHATTRAIN_* variables, as for
    the web and worker processes."""


def _settings() -> Settings:
    """The settings, with the database checked: a wrong or unreachable
    CHATTRAIN_DATABASE_URL is one line of error, not a traceback."""
    settings = Settings()
    try:
        check_database(settings.resolved_database_url)
    except DatabaseUnavailable as error:
        raise click.ClickException(str(error)) from None
    return settings


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else f"{count} {noun}s"


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@contextmanager
def _database() -> Iterator[Connection]:
    """A read connection to the configured database, with a readable error when it is
    missing or not migrated."""
    engine = create_sync_engine(_settings().resolved_database_url)
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as error:
        raise click.ClickException(
            f"cannot read the database ({error.orig}); is CHATTRAIN_DATA_DIR or CHATTRAIN_DATABASE_URL right, "
            "and has `chattrain db upgrade` run?"
        ) from None
    finally:
        engine.dispose()


@main.command("settings-doc")
def settings_doc() -> None:
    """Print docs/settings.md, generated from the settings class:
    `chattrain settings-doc > docs/settings.md`."""
    click.echo(render_settings_doc(), nl=False)


# --- scenarios ---------------------------------------------------------------------------


@main.group()
def scenarios() -> None:
    """Check the training scenarios."""


@scenarios.command("validate")
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False))
def validate_scenarios(folder: Path | None) -> None:
    """Validate every scenario in FOLDER (default: CHATTRAIN_SCENARIOS_DIR).

    Prints each scenario that loads and every problem found (file, field, reason); exits
    with status 1 when there is any problem or no scenario at all."""
    folder = folder or _settings().scenarios_dir
    loaded, errors = load_scenarios(folder)
    click.echo(f"Scenarios in {folder}:")
    for scenario in loaded:
        click.echo(
            f"  ok     {scenario.slug}: {scenario.title} "
            f"({_plural(len(scenario.bot_messages), 'scripted line')}, {scenario.duration_minutes} min)"
        )
    by_file: dict[str, list] = {}
    for error in errors:
        by_file.setdefault(error.file, []).append(error)
    for file, problems in by_file.items():
        click.echo(f"  error  {file}")
        for problem in problems:
            click.echo(f"           {problem.field}: {problem.reason}")
    problems = f"{_plural(len(errors), 'problem')} in {_plural(len(by_file), 'file')}" if errors else "no problems"
    click.echo(f"{_plural(len(loaded), 'valid scenario')}, {problems}.")
    if errors or not loaded:
        if not loaded and not errors:
            click.echo("No scenario files found (expected <folder>/<name>/scenario.yaml).")
        raise SystemExit(1)


@scenarios.command("try")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--replies",
    "replies_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A tab-separated file of sample replies (columns line and reply; id and score optional). "
    "Default: the scenario's own examples.",
)
def try_scenario(folder: Path, replies_file: Path | None) -> None:
    """Score sample replies to the scenario in FOLDER as the judge would, and show which
    points each makes and why.

    Warns about customer lines without examples and points that no sample reply makes;
    exits 1 when the scenario does not load."""
    try:
        scenario = load_scenario(_scenario_file(folder))
    except ScenarioLoadError as error:
        for problem in error.errors:
            click.echo(f"error  {problem.file}: {problem.field}: {problem.reason}")
        raise SystemExit(1) from None
    try:
        samples = read_sample_file(replies_file, scenario) if replies_file else example_replies(scenario)
    except SampleFileError as error:
        raise click.ClickException(str(error)) from None
    tried = try_replies(scenario, samples)
    for item in tried:
        judgement = item.judgement
        trainer = f" (trainer {item.sample.label})" if item.sample.label is not None else ""
        click.echo(f"{item.sample.name}, line {item.sample.line}: score {judgement.score}{trainer}")
        click.echo(f"  reply: {' '.join(item.sample.text.split())}")
        for result in judgement.points:
            state = "made  " if result.made else ("OPPOSITE" if result.contradicted else "missed")
            why = f'  <- "{result.quote}"' if result.quote else ""
            click.echo(f"  {state} {result.point.label} ({result.degree:.0%}){why}")
        for hit in judgement.pitfalls:
            click.echo(f'  PITFALL {hit.pitfall.label} ({hit.pitfall.severity})  <- "{hit.quote}"')
        if judgement.keyword_list_share >= 0.5:
            click.echo(f"  reads as a list of keywords ({judgement.keyword_list_share:.0%})")
        for coaching in judgement.improve():
            click.echo(f"  next time: {coaching.text}")
    warnings = warnings_for(scenario, tried)
    for warning in warnings:
        click.echo(f"warning  {warning}")
    click.echo(f"{_plural(len(tried), 'reply')} scored, {_plural(len(warnings), 'warning')}.")


def _scenario_file(folder: Path) -> Path:
    for name in SCENARIO_FILENAMES:
        if (folder / name).is_file():
            return folder / name
    raise click.ClickException(f"{folder}: no scenario.yaml in this folder")


# --- sessions ----------------------------------------------------------------------------


@main.group()
def sessions() -> None:
    """Read training sessions, their transcripts and their reports."""


def _scenario_id(conn: Connection, ident: str) -> int:
    ids = select_scenario_ids(conn)
    if ident.isascii() and ident.isdigit() and int(ident) in ids.values():
        return int(ident)
    if ident in ids:
        return ids[ident]
    raise click.BadParameter(f"no scenario with id or slug {ident!r}", param_hint="--scenario")


@sessions.command("list")
@click.option("--user-id", help="Only this trainee's sessions.")
@click.option("--scenario", "scenario", help="Only this scenario's sessions (integer id or slug).")
@click.option("--status", type=click.Choice(["active", "completed"]), help="Only sessions in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_sessions(user_id: str | None, scenario: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List sessions, newest first, with the report's score once written."""
    with _database() as conn:
        scenario_id = _scenario_id(conn, scenario) if scenario else None
        slugs = {sid: slug for slug, sid in select_scenario_ids(conn).items()}
        rows = session_rows.select_sessions(conn, user_id=user_id, scenario_id=scenario_id, status=status, limit=limit)
    listed = [
        {
            "id": row["id"],
            "scenario": slugs.get(row["scenario_id"], str(row["scenario_id"])),
            "user_id": row["user_id"],
            "status": row["status"],
            "created_at": row["created_at"],
            "ended_by": row["ended_by"],
            "score": row["report"]["overall_score"] if row["report"] else None,
        }
        for row in rows
    ]
    if as_json:
        _print_json(listed)
        return
    if not listed:
        click.echo("No sessions.")
        return
    columns = ("id", "scenario", "user_id", "status", "created_at", "ended_by", "score")
    cells = [[("-" if row[key] is None else str(row[key])) for key in columns] for row in listed]
    widths = [max(len(key), *(len(line[i]) for line in cells)) for i, key in enumerate(columns)]
    for line in [[key.upper() for key in columns], *cells]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _record(conn: Connection, session_id: int) -> dict[str, Any]:
    record = select_session_record(conn, session_id)
    if record is None:
        raise click.ClickException(f"no session {session_id}")
    return record


@sessions.command("transcript")
@click.argument("session_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def show_transcript(session_id: int, fmt: str) -> None:
    """Print a session's transcript with the per-reply feedback (and the report summary)."""
    with _database() as conn:
        record = _record(conn, session_id)
    if fmt == "json":
        _print_json(transcript_json(record))
    else:
        click.echo(transcript_markdown(record), nl=False)


@sessions.command("report")
@click.argument("session_id", type=int)
def show_report(session_id: int) -> None:
    """Print a completed session's report as JSON (exit 1 while it is not written)."""
    with _database() as conn:
        session = session_rows.select_session(conn, session_id)
        report = report_rows.select_report(conn, session_id) if session else None
    if session is None:
        raise click.ClickException(f"no session {session_id}")
    if report is None:
        state = "is still active" if session["status"] == "active" else "has ended but its report is not written yet"
        raise click.ClickException(f"session {session_id} {state}")
    _print_json(report)


# --- database ----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Manage the database."""


@db.command("upgrade")
def upgrade_database() -> None:
    """Apply every pending migration (the servers also do this when they start)."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    click.echo(f"Database {shown_url(settings.resolved_database_url)} is up to date.")


from shared.cli.users import users  # noqa: E402  (the users group lives in its own module)

main.add_command(users)

from shared.cli.erase import erase  # noqa: E402  (erasing a trainee: shared/db/erasure.py)

users.add_command(erase)

from shared.cli.backup import backup  # noqa: E402

db.add_command(backup)

from shared.cli.export import export  # noqa: E402

main.add_command(export)

from shared.cli.secret_key import secret_key  # noqa: E402

main.add_command(secret_key)

from shared.cli.usage import usage  # noqa: E402  (the usage command lives in its own module)

main.add_command(usage)
