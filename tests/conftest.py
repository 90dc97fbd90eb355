"""Shared fixtures. The API tests run the real app (its real start-up: migrations,
scenario loading, the tailer) on a temporary SQLite file through Quart's test client;
the end-to-end tests start the real processes (see tests/e2e)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

# Masking is on by default and refuses to start without a key (tests of that pass
# secret_key="" explicitly).
os.environ.setdefault("CHATTRAIN_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("CHATTRAIN_SCENARIOS_DIR", str(Path(__file__).resolve().parents[1] / "scenarios"))

import pytest  # noqa: E402

from shared.settings import Settings  # noqa: E402
from tests.support.client import AuthUser  # noqa: E402
from tests.support.servers import CONFIGURATIONS, backends_for  # noqa: E402
from tests.support.stack import REPO_ROOT, started_stack  # noqa: E402

# What `make test` keeps of the real-process tests, so that a newcomer's run still starts
# the real thing: the quick start through `make run` and the Procfile, a conversation over
# a real socket on each configuration, a client of the original protocol, and web app
# pages in Chromium. The rest of tests/e2e and tests/browser (the outage, recovery and
# scaled-layout matrices, the model and masking runs, schemathesis, the browser suite) is
# marked `slow`: `make test-e2e` runs it, and CI runs both.
REPRESENTATIVE = (
    "tests/e2e/test_quick_start.py",
    "tests/e2e/test_conversation.py",
    "tests/e2e/test_seed_client.py",
    "tests/browser/test_rendering.py",
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items) -> None:  # noqa: ANN001
    for item in items:
        path = item.path.relative_to(REPO_ROOT).as_posix()
        if path.startswith(("tests/e2e/", "tests/browser/")) and path not in REPRESENTATIVE:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(name="database_url")
def _database_url():
    """Empty (SQLite in the test's data folder), or with CHATTRAIN_TEST_DATABASE=postgres a
    throwaway database on a real PostgreSQL server (already migrated), so the API tests run
    on either."""
    if os.environ.get("CHATTRAIN_TEST_DATABASE") != "postgres":
        yield ""
        return
    from tests.support.postgres import migrated_database, server_url, unavailable_reason

    server = server_url()
    if server is None:
        pytest.fail(unavailable_reason())
    with migrated_database(server) as url:
        yield url


@pytest.fixture(name="settings")
def _settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url)


@pytest.fixture(name="migrated_sqlite", scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, migrated once per run (per xdist worker)."""
    from shared.db.migrate import upgrade_to_head

    path = tmp_path_factory.mktemp("migrated") / "chattrain.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


def start_on_a_migrated_copy(settings: Settings, migrated_sqlite: Path) -> None:
    """Put a copy of the migrated file where `settings` keeps its SQLite database, unless
    something is there already (or the database is PostgreSQL, whose fixture copies a
    migrated template database itself): start-up then finds nothing to migrate, as at a
    restart, which saves most of a second per test. Migrating an empty file is tested in
    tests/shared/db/test_migrations.py and by every process the e2e tests start."""
    target = settings.data_dir / "chattrain.db"
    if settings.database_url or target.exists():
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # SQLite's backup copies the pages a WAL file may still hold, which a file copy would miss.
    with closing(sqlite3.connect(migrated_sqlite)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)


@pytest.fixture(name="app")
async def _app(settings: Settings, migrated_sqlite: Path):
    from web.app import create_app

    start_on_a_migrated_copy(settings, migrated_sqlite)
    app = create_app(settings)
    test_app = app.test_app()
    # Stopping joins the wake-up receiver's thread and drains the database threads; on a
    # loaded 2-core machine that has taken longer than Quart's default 6 s on PostgreSQL.
    test_app.shutdown_timeout = 30
    async with test_app:
        yield test_app


@pytest.fixture(name="client")
def _client(app):
    return app.test_client()


async def create_test_user(app, role: str, user_id: str) -> AuthUser:
    """Create a user in the running test app's database; the token comes back once."""
    from shared.db.users import insert_user

    token = await app.app.db.write(insert_user, user_id=user_id, role=role)
    return AuthUser(id=user_id, role=role, token=token)


@pytest.fixture(name="users")
async def _users(app) -> SimpleNamespace:
    """Three signed-up users: `trainee` (trainee-1), `other` (trainee-2), `trainer`.
    Each has `.headers` for HTTP and `.subprotocols` for the chat socket."""
    return SimpleNamespace(
        trainee=await create_test_user(app, "trainee", "trainee-1"),
        other=await create_test_user(app, "trainee", "trainee-2"),
        trainer=await create_test_user(app, "trainer", "trainer-1"),
    )


@pytest.fixture(name="backends", params=CONFIGURATIONS)
def _backends(request):
    """The e2e suite's main tests run on each configuration: SQLite (the default install)
    and PostgreSQL + Redis with a data folder per process (tests/support/servers.py)."""
    with backends_for(request.param) as backends:
        yield backends


@pytest.fixture(name="stack")
def _stack(tmp_path: Path, backends):
    # DEBUG logs a line per message and per reply, which the tests read.
    with started_stack(tmp_path / "data", backends=backends, CHATTRAIN_LOG_LEVEL="DEBUG") as stack:
        yield stack


@pytest.fixture(name="runtime")
def _runtime(tmp_path: Path, database_url: str, migrated_sqlite: Path):
    """A worker runtime (the worker's code, in process) on a migrated SQLite file of its
    own (or a throwaway PostgreSQL database), with the shipped scenarios in the scenarios
    table (as the web process puts them there at start-up)."""
    from shared.db.scenario_rows import upsert_scenario
    from worker.runtime import WorkerRuntime

    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url)
    settings.data_dir.mkdir(parents=True)
    start_on_a_migrated_copy(settings, migrated_sqlite)  # (a PostgreSQL database_url is migrated already)
    runtime = WorkerRuntime(settings)
    with runtime.write_engine.begin() as conn:
        for scenario in runtime.catalog.by_slug.values():
            upsert_scenario(conn, slug=scenario.slug, title=scenario.title, config={}, file_path=str(scenario.folder))
    return runtime
