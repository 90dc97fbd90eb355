"""Training scenarios: the catalogue a trainee picks from."""

from __future__ import annotations

from quart import Blueprint, current_app, url_for
from quart_schema import validate_response

from shared.scenarios import Scenario as ScenarioModel
from web.auth import require_user
from web.errors import ApiError
from web.models import Scenario

blueprint = Blueprint("scenarios", __name__)


def scenario_view(scenario_id: int, scenario: ScenarioModel) -> Scenario:
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


def find_scenario(ident: int | str) -> tuple[int, ScenarioModel]:
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
