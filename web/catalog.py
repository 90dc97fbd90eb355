"""The scenarios this web process serves: loaded from files at start-up, validated,
copied into the scenarios table, and looked up by integer id or slug."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from shared.db.scenario_rows import upsert_scenario
from shared.db.schema import MAX_SQLITE_INTEGER
from shared.scenarios import Scenario, ScenarioError, load_scenarios
from web.database import Database

log = logging.getLogger("chattrain.web")


@dataclass
class ScenarioCatalog:
    by_id: dict[int, Scenario] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    errors: list[ScenarioError] = field(default_factory=list)

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


async def load_catalog(db: Database, scenarios_dir: Path) -> ScenarioCatalog:
    scenarios, errors = load_scenarios(scenarios_dir)
    for error in errors:
        log.error("scenario not loaded: %s", error)
    catalog = ScenarioCatalog(errors=list(errors))
    for scenario in scenarios:
        scenario_id = await db.write(
            upsert_scenario,
            slug=scenario.slug,
            title=scenario.title,
            config=scenario.config_json(),
            file_path=str(scenario.folder),
        )
        catalog.by_id[scenario_id] = scenario
        catalog.ids[scenario.slug] = scenario_id
    log.info("loaded %d scenario(s), %d error(s)", len(scenarios), len(errors))
    return catalog
