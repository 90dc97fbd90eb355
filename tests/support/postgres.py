"""A PostgreSQL server for the tests, and throwaway databases on it.

The machine's server on 127.0.0.1:5432 (user postgres, trust auth; what the developers'
machines and CI run) is used when it answers. Otherwise the suite starts a private one
from Debian's binaries (`initdb` + `pg_ctl` on a free port, in a temporary folder; as
root, `apt-get install postgresql` first when they are missing, and the server runs as
the `postgres` user because initdb refuses root). Only when neither works are the tests
skipped, with the reason.

Each test gets its own database (`CREATE DATABASE` with a random name, dropped with
FORCE afterwards), so tests never see each other's rows."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

SHARED_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
_server: str | None = None
_unavailable: str | None = None
_templates: dict[str, str] = {}  # server URL -> its migrated template database


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(_libpq(url, "postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _libpq(url: str, database: str) -> str:
    """The libpq form of a server URL (`postgresql+psycopg://user@host:port`) for one database."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1) + f"/{database}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _binaries() -> Path | None:
    for candidate in [shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)]:
        if candidate:
            return Path(candidate).parent
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=False, env=env, capture_output=True)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
        return Path(found[0]).parent if found else None
    return None


def start_private_server() -> str:
    """initdb + pg_ctl on a free port in a temporary folder; stopped when the run ends.
    Returns the server's URL (no database part)."""
    bin_dir = _binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (pg_ctl) found, and not root to apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="chattrain-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}"


def server_url() -> str | None:
    """The URL of a PostgreSQL server for the tests (shared or private), or None when
    none can be reached or started (`unavailable_reason()` says why)."""
    global _server, _unavailable
    if _server is None and _unavailable is None:
        if _answers(SHARED_SERVER):
            _server = SHARED_SERVER
        else:
            try:
                _server = start_private_server()
            except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
                _unavailable = f"no PostgreSQL on 127.0.0.1:5432 and none could be started: {error}"
    return _server


def unavailable_reason() -> str:
    return _unavailable or ""


@contextmanager
def throwaway_database(server: str, *, template: str | None = None) -> Iterator[str]:
    """A new database on `server`, empty or a copy of `template`; yields its SQLAlchemy URL
    and drops it after."""
    name = f"chattrain_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server, "postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield f"{server}/{name}"
    finally:
        _drop(server, name)


def migrated_database(server: str):  # noqa: ANN201
    """A throwaway database already at the newest schema: a copy of one migrated once per
    run, which costs a fraction of migrating each test's database (the app fixture's
    start-up then finds nothing to do, as at a restart). Migrating an empty database is
    tested in tests/postgres and by the e2e suite."""
    template = _templates.get(server)
    if template is None:
        from shared.db.migrate import upgrade_to_head

        template = f"chattrain_template_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(server, "postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{template}"')
        atexit.register(_drop, server, template)
        upgrade_to_head(f"{server}/{template}")
        _templates[server] = template
    return throwaway_database(server, template=template)


def _drop(server: str, name: str) -> None:
    for _ in range(3):
        try:
            with psycopg.connect(_libpq(server, "postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            break
        except psycopg.Error:
            time.sleep(0.5)
