"""The worker keeps the SQLite files and their logs mapped and filled, so that idle file
cache is not reclaimed from under the first message after a quiet spell
(shared/db/residency.py)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from shared.db.residency import ResidentFiles

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MADV_POPULATE_READ is Linux's")

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
_MAPPING_LINE = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")


def mapped(path: Path) -> dict[str, int]:
    """Resident bytes of this process's mappings of the database `path` and of its log
    (not of the WAL-index, which SQLite maps itself), by the name /proc shows for the
    file, with " (deleted)" once it is gone."""
    names = {f"{file}{gone}" for file in (path, f"{path}-wal") for gone in ("", " (deleted)")}
    found: dict[str, int] = {}
    name = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            header = _MAPPING_LINE.match(line)
            if header:
                name = header.group(1) if header.group(1) in names else None
            elif name is not None and line.startswith("Rss:"):
                found[name] = found.get(name, 0) + int(line.split()[1]) * 1024
    return found


def whole_pages(size: int) -> int:
    return -(-size // PAGE) * PAGE


def open_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    return conn


def write_rows(conn: sqlite3.Connection, n: int) -> None:
    conn.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 3000,) for _ in range(n)])


def database_with_rows(tmp_path: Path, rows: int) -> tuple[Path, Path, sqlite3.Connection]:
    """A database in WAL mode holding `rows` rows, its log's path, and the open connection."""
    db = tmp_path / "chat.db"
    conn = open_database(db)
    write_rows(conn, rows)
    return db, Path(f"{db}-wal"), conn


def drop_from_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_the_database_and_its_log_are_mapped_and_read_back_in_whole(tmp_path: Path) -> None:
    db, wal, conn = database_with_rows(tmp_path, 50)
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # some pages in the file, the rest in the log
    write_rows(conn, 50)
    for path in (db, wal):
        drop_from_cache(path)
    resident = ResidentFiles([db], max_bytes=64 * MIB)
    try:
        resident.refresh()
        assert mapped(db) == {str(db): whole_pages(db.stat().st_size), str(wal): whole_pages(wal.stat().st_size)}
    finally:
        resident.close()
        conn.close()
    assert mapped(db) == {}


def test_a_growing_log_has_its_new_pages_filled(tmp_path: Path) -> None:
    db, wal, conn = database_with_rows(tmp_path, 10)
    resident = ResidentFiles([db], max_bytes=64 * MIB)
    try:
        resident.refresh()
        before = mapped(db)[str(wal)]
        write_rows(conn, 200)
        resident.refresh()
        assert mapped(db)[str(wal)] == whole_pages(wal.stat().st_size) > before
    finally:
        resident.close()
        conn.close()


def test_a_log_made_again_is_mapped_again_and_the_old_one_let_go(tmp_path: Path) -> None:
    db, wal, conn = database_with_rows(tmp_path, 20)
    resident = ResidentFiles([db], max_bytes=64 * MIB)
    try:
        resident.refresh()
        conn.close()  # the last connection: SQLite checkpoints and deletes the log
        assert not wal.exists()
        conn = open_database(db)
        write_rows(conn, 5)
        resident.refresh()
        assert mapped(db) == {str(db): whole_pages(db.stat().st_size), str(wal): whole_pages(wal.stat().st_size)}
    finally:
        resident.close()
        conn.close()


def test_each_file_is_mapped_up_to_the_cap(tmp_path: Path) -> None:
    db, _, conn = database_with_rows(tmp_path, 400)  # over a megabyte in the log
    resident = ResidentFiles([db], max_bytes=1 * MIB)
    try:
        resident.refresh()
        assert mapped(db)[f"{db}-wal"] == 1 * MIB
    finally:
        resident.close()
        conn.close()


def test_a_cap_of_zero_maps_nothing(tmp_path: Path) -> None:
    db, _, conn = database_with_rows(tmp_path, 5)
    resident = ResidentFiles([db], max_bytes=0)
    resident.refresh()
    assert not resident.enabled and mapped(db) == {}
    conn.close()


def test_the_process_keeps_the_locks_its_sqlite_connections_hold(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it,
    SQLite's included; mapping, re-mapping and letting go must close none of the
    database's."""
    import fcntl

    db, _, conn = database_with_rows(tmp_path, 5)
    fd = os.open(db, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a read lock, the kind SQLite takes
    resident = ResidentFiles([db], max_bytes=64 * MIB)
    resident.refresh()
    write_rows(conn, 100)
    resident.refresh()
    resident.close()
    try:
        other_process = subprocess.run(
            [sys.executable, "-c", "import fcntl, os, sys; fcntl.lockf(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)", str(db)],
            capture_output=True,
            check=False,
        )
        assert other_process.returncode != 0, "the read lock was dropped: another process could lock the file"
        assert b"BlockingIOError" in other_process.stderr or b"PermissionError" in other_process.stderr
    finally:
        os.close(fd)
        conn.close()
