"""The one scenario catalog: the web process numbers it by writing the scenarios table,
and a worker numbers its own from that table, including rows written after it started."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from shared.db.migrate import upgrade_to_head
from shared.db.scenario_rows import upsert_scenario
from shared.scenarios.catalog import ScenarioCatalog, upsert_catalog
from shared.settings import Settings
from worker.runtime import WorkerRuntime

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_a_catalog_is_found_by_id_or_slug_once_numbered_by_its_rows(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")
    settings.data_dir.mkdir()
    upgrade_to_head(settings.resolved_database_url)
    runtime = WorkerRuntime(settings)
    catalog = ScenarioCatalog.from_folder(settings.scenarios_dir)
    assert "customer-service" in catalog.by_slug and catalog.get("customer-service") is None
    with pytest.raises(KeyError):  # the worker reads the (still empty) table's ids
        runtime.scenario_for(1)

    with runtime.write_engine.begin() as conn:
        upsert_catalog(conn, catalog)
    scenario_id, scenario = catalog.get("customer-service")
    assert scenario.slug == "customer-service"
    assert catalog.get(str(scenario_id)) == (scenario_id, scenario) == catalog.get(scenario_id)
    assert catalog.get("9" * 20) is None  # longer than any stored id
    assert [slug for _, slug in sorted((i, s.slug) for i, s in catalog.items())] == sorted(
        catalog.ids, key=catalog.ids.get
    )

    # The worker, which read the ids before the rows existed, reads them again.
    assert runtime.scenario_for(scenario_id).slug == "customer-service"
    # A second start keeps each scenario's id.
    again = ScenarioCatalog.from_folder(settings.scenarios_dir)
    with runtime.write_engine.begin() as conn:
        upsert_catalog(conn, again)
    assert again.ids == catalog.ids
    runtime.engine.dispose()


def test_a_worker_reads_the_ids_again_only_for_an_id_it_has_not_seen(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")
    settings.data_dir.mkdir()
    upgrade_to_head(settings.resolved_database_url)
    runtime = WorkerRuntime(settings)
    with runtime.write_engine.begin() as conn:
        upsert_catalog(conn, ScenarioCatalog.from_folder(settings.scenarios_dir))
        # A scenario another process has a folder of, and this worker has not.
        elsewhere = upsert_scenario(conn, slug="elsewhere", title="Elsewhere", config={}, file_path="/x")
    reads: list[str] = []

    def note_read(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        if "FROM scenarios" in statement:
            reads.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", note_read)

    for _ in range(3):
        with pytest.raises(KeyError):
            runtime.scenario_for(elsewhere)
    assert len(reads) == 1  # read once, then known to be no scenario of this worker's
    assert runtime.scenario_for(runtime.catalog.ids["customer-service"]).slug == "customer-service"
    assert len(reads) == 1
    runtime.engine.dispose()
