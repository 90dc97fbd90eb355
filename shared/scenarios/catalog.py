"""The scenarios a process serves, for the web process and the worker alike: read from
the scenario folders at start-up, each numbered by its row in the scenarios table (the
web process writes those rows, `upsert_catalog`), and looked up by that id or by slug."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection

from shared.db.scenario_rows import upsert_scenario
from shared.db.schema import MAX_SQLITE_INTEGER
from shared.scenarios.loader import ScenarioError, load_scenarios
from shared.scenarios.model import Scenario

log = logging.getLogger("chattrain.scenarios")


@dataclass
class ScenarioCatalog:
    by_slug: dict[str, Scenario] = field(default_factory=dict)
    by_id: dict[int, Scenario] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    errors: list[ScenarioError] = field(default_factory=list)
    # Every id numbered from the table, this process's folder or not.
    stored_ids: set[int] = field(default_factory=set)

    @classmethod
    def from_folder(cls, scenarios_dir: Path) -> ScenarioCatalog:
        """The scenarios in `scenarios_dir`, not yet numbered; one that fails its checks is
        logged and kept among `errors`."""
        scenarios, errors = load_scenarios(scenarios_dir)
        for error in errors:
            log.error("scenario not loaded: %s", error)
        return cls(by_slug={scenario.slug: scenario for scenario in scenarios}, errors=list(errors))

    def number(self, ids: Mapping[str, int]) -> None:
        """Give the loaded scenarios their ids (slug to id, as the scenarios table holds
        them); slugs this process did not load are left out."""
        for slug, scenario_id in ids.items():
            self.stored_ids.add(scenario_id)
            scenario = self.by_slug.get(slug)
            if scenario is not None:
                self.by_id[scenario_id] = scenario
                self.ids[slug] = scenario_id

    def get(self, ident: int | str) -> tuple[int, Scenario] | None:
        """Find a scenario by integer id (or its decimal text) or by slug."""
        # isascii: str.isdigit() is also true for "³", which int() rejects. The length: a
        # stored id has at most 19 digits, and int() refuses thousands with a ValueError.
        if isinstance(ident, str) and ident.isascii() and ident.isdigit():
            if len(ident.lstrip("0")) > len(str(MAX_SQLITE_INTEGER)):
                return None
            ident = int(ident)
        if isinstance(ident, int):
            scenario_id = ident
            scenario = self.by_id.get(scenario_id)
            return (scenario_id, scenario) if scenario else None
        scenario_id = self.ids.get(ident)
        return (scenario_id, self.by_id[scenario_id]) if scenario_id is not None else None

    def items(self) -> list[tuple[int, Scenario]]:
        return sorted(self.by_id.items())


def upsert_catalog(conn: Connection, catalog: ScenarioCatalog) -> None:
    """Copy the catalog's scenarios into the scenarios table (keyed by slug, so a scenario
    keeps its id from one start to the next) and number them by their rows."""
    for scenario in catalog.by_slug.values():
        scenario_id = upsert_scenario(
            conn,
            slug=scenario.slug,
            title=scenario.title,
            config=scenario.config_json(),
            file_path=str(scenario.folder),
        )
        catalog.number({scenario.slug: scenario_id})
