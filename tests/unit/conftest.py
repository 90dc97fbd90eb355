"""Fixtures for the unit tests that run the worker's code in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.db.migrate import upgrade_to_head
from shared.db.scenario_rows import upsert_scenario
from shared.settings import Settings
from tests.support.stack import REPO_ROOT
from worker.runtime import WorkerRuntime


@pytest.fixture(name="runtime")
def _runtime(tmp_path: Path, database_url: str) -> WorkerRuntime:
    """A worker runtime on a migrated SQLite file of its own (or a throwaway PostgreSQL
    database, tests/conftest.py), with the shipped scenarios in the scenarios table (as
    the web process puts them there at start-up)."""
    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url)
    settings.data_dir.mkdir(parents=True)
    upgrade_to_head(settings.resolved_database_url)
    runtime = WorkerRuntime(settings)
    with runtime.write_engine.begin() as conn:
        for scenario in runtime.scenarios.values():
            upsert_scenario(conn, slug=scenario.slug, title=scenario.title, config={}, file_path=str(scenario.folder))
    return runtime
