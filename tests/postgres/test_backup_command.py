"""`chattrain db backup` is for SQLite: on PostgreSQL it refuses and names pg_dump."""

from __future__ import annotations

from click.testing import CliRunner

from shared.cli.main import main


def test_backup_on_postgresql_is_refused_pointing_at_pg_dump(migrated_url, tmp_path):
    # The server trusts loopback, so a password in the URL is ignored by it: here it is
    # only to show that it is never printed.
    url = migrated_url.replace("://postgres@", "://postgres:pa55word@")
    env = {"CHATTRAIN_DATA_DIR": str(tmp_path / "data"), "CHATTRAIN_DATABASE_URL": url}
    result = CliRunner(env=env).invoke(main, ["db", "backup", str(tmp_path / "copy.db")], catch_exceptions=False)
    assert result.exit_code == 1
    assert "not SQLite: back PostgreSQL up with its own tools, e.g. `pg_dump --format=custom" in result.output
    assert "pa55word" not in result.output and "postgres:***@" in result.output
    assert not (tmp_path / "copy.db").exists()
