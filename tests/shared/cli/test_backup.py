"""`chattrain db backup` on a live SQLite database: a writer thread commits through the
real engine (BEGIN IMMEDIATE, the write lock) all the while, as web and worker do."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from shared.cli.main import main
from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.schema import llm_usage
from shared.db.users import insert_user


@pytest.fixture(name="data_dir")
def _data_dir(tmp_path: Path) -> Path:
    """A migrated database with some bulk (about 8 MB of usage rows), so that a copy takes
    more than an instant."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'chattrain.db'}"
    upgrade_to_head(url)
    engine = create_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(llm_usage),
            [{"user_id": f"bulk-{n:06d}-" + "x" * 100, "day": "2026-01-01"} for n in range(60_000)],
        )
    engine.dispose()
    return data_dir


def _backup(data_dir: Path, *args: str):  # noqa: ANN202
    env = {"CHATTRAIN_DATA_DIR": str(data_dir), "CHATTRAIN_DATABASE_URL": ""}
    return CliRunner(env=env).invoke(main, ["db", "backup", *args], catch_exceptions=False)


def _user_ids(path: Path) -> list[str]:
    copy = sqlite3.connect(path)
    try:
        return [row[0] for row in copy.execute("SELECT id FROM users")]
    finally:
        copy.close()


def test_a_copy_taken_while_a_writer_commits_is_whole_checked_and_holds_what_was_committed_before(data_dir, tmp_path):
    engine = create_sync_engine(f"sqlite:///{data_dir / 'chattrain.db'}")
    committed: list[tuple[str, float]] = []  # (user id, when its commit returned), in commit order
    stop = threading.Event()

    def write() -> None:
        number = 0
        while not stop.is_set():
            user_id = f"writer-{number:06d}"
            with engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}).begin() as conn:
                insert_user(conn, user_id=user_id, role="trainee")
            committed.append((user_id, time.monotonic()))
            number += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(committed) < 20:
            time.sleep(0.01)
        before = [user_id for user_id, _at in committed]
        started = time.monotonic()
        result = _backup(data_dir, str(tmp_path / "copy.db"))
        ended = time.monotonic()
        while not any(at > ended for _user_id, at in committed):  # the writer outlives the copy
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join(10)
        engine.dispose()
    assert result.exit_code == 0, result.output
    assert "integrity check ok" in result.output
    assert any(started < at < ended for _user_id, at in committed)  # it went on writing meanwhile

    copy = tmp_path / "copy.db"
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no -wal beside it
        assert connection.execute("SELECT count(*) FROM llm_usage").fetchone() == (60_000,)
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    finally:
        connection.close()
    in_copy = _user_ids(copy)
    assert set(before) <= set(in_copy)
    # One snapshot: the copy holds the first N commits for some N, with no gap.
    order = [user_id for user_id, _at in committed]
    assert in_copy == order[: len(in_copy)]
    assert not list(tmp_path.glob(".copy.db.partial-*"))


def test_a_file_is_not_overwritten_unless_asked_and_a_folder_gets_a_file_named_for_the_time(data_dir, tmp_path):
    existing = tmp_path / "copy.db"
    existing.write_text("an older copy")
    result = _backup(data_dir, str(existing))
    assert result.exit_code == 1 and "exists; pass --overwrite" in result.output
    assert existing.read_text() == "an older copy"
    assert _backup(data_dir, str(existing), "--overwrite").exit_code == 0
    assert _user_ids(existing) == []

    folder = tmp_path / "backups"
    folder.mkdir()
    result = _backup(data_dir, str(folder))
    assert result.exit_code == 0, result.output
    (made,) = folder.iterdir()
    assert made.name.startswith("chattrain-") and made.name.endswith("Z.db")

    result = _backup(data_dir, str(tmp_path / "no-such-folder" / "copy.db"))
    assert result.exit_code == 1 and "no folder" in result.output


def test_a_missing_database_is_refused_and_nothing_is_created(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _backup(empty, str(tmp_path / "copy.db"))
    assert result.exit_code == 1 and "no database at" in result.output
    assert not (empty / "chattrain.db").exists() and not (tmp_path / "copy.db").exists()
