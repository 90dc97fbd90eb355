"""Training scenarios: the catalogue a trainee picks from, and each scenario's statistics
for trainers."""

from __future__ import annotations

from quart import Blueprint, current_app, url_for
from quart_schema import validate_response

from shared import scenarios
from shared.conversation.records import outcomes_stats
from shared.db import reports as report_rows
from web.auth import require_trainer, require_user
from web.errors import ApiError
from web.models import Scenario, ScenarioStats

blueprint = Blueprint("scenarios", __name__)


def scenario_view(scenario_id: int, scenario: scenarios.Scenario) -> Scenario:
    """The public view of a scenario: never the script, the keywords or the rubric."""
    public = scenario.public_view()
    public["documents"] = [
        {
            **doc,
            "url": url_for("documents.get_document", scenario_id=scenario_id, filename=doc["filename"]),
        }
        for doc in public["documents"]
    ]
    return Scenario(id=scenario_id, **public)


def find_scenario(ident: int | str) -> tuple[int, scenarios.Scenario]:
    found = current_app.catalog.get(ident)
    if found is None:
        raise ApiError(404, "scenario_not_found", f"No scenario with id or slug {ident!r}.")
    return found


@blueprint.get("/api/scenarios")
@require_user
@validate_response(list[Scenario], 200)
async def get_scenarios() -> list[Scenario]:
    """List the training scenarios a trainee can start."""
    return [scenario_view(scenario_id, scenario) for scenario_id, scenario in current_app.catalog.items()]


@blueprint.get("/api/scenarios/<ident>")
@require_user
@validate_response(Scenario, 200)
async def get_scenario(ident: str) -> Scenario:
    """Show one scenario, by integer id or slug."""
    return scenario_view(*find_scenario(ident))


@blueprint.get("/api/scenarios/<ident>/stats")
@require_trainer
@validate_response(ScenarioStats, 200)
async def get_scenario_stats(ident: str) -> ScenarioStats:
    """Summarise a scenario's sessions: completion rate, scores and the most-missed keywords.

    A keyword counts once per session that missed it: in a reply to the customer line that
    expected it, or as a required keyword never said."""
    scenario_id, scenario = find_scenario(ident)
    outcomes = await current_app.db.read(report_rows.select_scenario_outcomes, scenario_id)
    return ScenarioStats(scenario_id=scenario_id, scenario_slug=scenario.slug, **outcomes_stats(outcomes))
