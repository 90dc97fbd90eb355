"""Fixtures for the tests on a real PostgreSQL server (tests/support/postgres.py): every
test here gets a throwaway database of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support.postgres import server_url, throwaway_database, unavailable_reason
from tests.support.stack import REPO_ROOT


def pytest_collection_modifyitems(items) -> None:  # noqa: ANN001
    for item in items:
        if "tests/postgres/" in str(item.fspath):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(name="pg_server", scope="session")
def _pg_server() -> str:
    url = server_url()
    if url is None:
        pytest.skip(unavailable_reason())
    return url


@pytest.fixture(name="pg_url")
def _pg_url(pg_server: str):
    with throwaway_database(pg_server) as url:
        yield url


@pytest.fixture(name="database_url")
def _database_url(pg_url: str) -> str:
    """What tests/conftest.py's fixtures (the app, the worker runtime) run on."""
    return pg_url


@pytest.fixture(name="migrated_url")
def _migrated_url(pg_url: str) -> str:
    from shared.db.migrate import upgrade_to_head

    upgrade_to_head(pg_url)
    return pg_url


@pytest.fixture(name="engine")
def _engine(migrated_url: str):
    from shared.db.engine import create_sync_engine

    engine = create_sync_engine(migrated_url, pool_size=8)
    yield engine
    engine.dispose()


@pytest.fixture(name="settings")
def _settings(tmp_path: Path, migrated_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=migrated_url)


@pytest.fixture(name="runtime")
def _runtime(settings: Settings):
    """A worker runtime on the test's PostgreSQL database, with the shipped scenarios."""
    from shared.db.scenario_rows import upsert_scenario
    from worker.runtime import WorkerRuntime

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = WorkerRuntime(settings)
    with runtime.write_engine.begin() as conn:
        for scenario in runtime.catalog.by_slug.values():
            upsert_scenario(conn, slug=scenario.slug, title=scenario.title, config={}, file_path=str(scenario.folder))
    yield runtime
    runtime.engine.dispose()
