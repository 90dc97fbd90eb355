"""A consistent copy of a live SQLite database, taken while web and worker write to it.

SQLite's online backup API copies the database page by page from one read snapshot. In
WAL mode a reader does not block writers, so the servers go on writing while it runs,
and the copy holds exactly the transactions committed before it began. The copy is made
in one step: a copy made a few pages at a time starts over whenever another connection
writes, which under a steady load may be forever.

The copy is written beside DEST under a temporary name, checked with `PRAGMA
integrity_check`, switched out of WAL mode (one self-contained file) and only then
renamed to DEST, so DEST is either a whole, checked copy or not there at all."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from shared.db.engine import BUSY_TIMEOUT_MS


class BackupError(Exception):
    """The copy could not be made or failed its check; DEST was not written."""


def backup_sqlite(source: Path, dest: Path) -> int:
    """Copy the SQLite database `source` to `dest` (which must not exist) and return the
    copy's size in bytes. BackupError when the source is missing or the copy fails its
    integrity check."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        # mode=rw: a missing source is an error, never a new empty database.
        reader = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        copy = sqlite3.connect(partial)
        try:
            reader.backup(copy)  # pages=-1: every page from one snapshot
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"the copy failed its integrity check: {'; '.join(problems[:5])}")
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            reader.close()
        with open(partial, "rb") as file:
            os.fsync(file.fileno())
        os.replace(partial, dest)
    except sqlite3.Error as error:
        raise BackupError(f"the copy failed: {error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return dest.stat().st_size
