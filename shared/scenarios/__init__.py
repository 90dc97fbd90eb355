"""Training scenarios: the validated model and the loader that reads scenario folders."""

from shared.scenarios.loader import ScenarioError, ScenarioLoadError, load_scenario, load_scenarios
from shared.scenarios.model import Scenario

__all__ = ["Scenario", "ScenarioError", "ScenarioLoadError", "load_scenario", "load_scenarios"]
