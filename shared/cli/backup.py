"""`chattrain db backup DEST`: a consistent copy of the live SQLite database
(shared/db/backup.py). PostgreSQL has its own tool for this, pg_dump."""

from __future__ import annotations

from pathlib import Path

import click

from shared.db.backup import BackupError, backup_sqlite
from shared.db.engine import is_sqlite, shown_url, sqlite_file
from shared.lib.clock import utc_now
from shared.settings import load_settings


def _destination(dest: Path, overwrite: bool) -> Path:
    if dest.is_dir():
        # A folder: a new file named for the time, so a cron line keeps every copy.
        return dest / f"chattrain-{utc_now().strftime('%Y%m%dT%H%M%SZ')}.db"
    if dest.exists() and not overwrite:
        raise click.ClickException(f"{dest} exists; pass --overwrite to replace it")
    if not dest.parent.is_dir():
        raise click.ClickException(f"no folder {dest.parent}")
    return dest


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace DEST when it is a file that exists.")
def backup(dest: Path, overwrite: bool) -> None:
    """Copy the SQLite database to DEST (a file, or a folder for a file named for the
    time) while web and worker go on writing. The copy holds every transaction committed
    before it began and passes PRAGMA integrity_check. The queue file needs no copy."""
    url = load_settings().resolved_database_url
    if not is_sqlite(url):
        raise click.ClickException(
            f"the database is {shown_url(url)}, not SQLite: back PostgreSQL up with its own tools, "
            "e.g. `pg_dump --format=custom --file=chattrain.dump DATABASE` (docs/operations.md, Data life cycle)"
        )
    source = sqlite_file(url)
    if source is None:
        raise click.ClickException("the database is an in-memory SQLite database: there is nothing to copy")
    target = _destination(dest, overwrite)
    try:
        size = backup_sqlite(source, target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Copied {source} to {target} ({size / 1_000_000:.1f} MB, integrity check ok).")
