"""Consumer entry point: `huey_consumer worker.main.huey`.

Importing this module registers the tasks (replies and evaluations) and the start-up
hook that begins the heartbeat and the recovery sweep."""

import logging

from shared.logs import configure_logging
from worker.evaluation import evaluate_session
from worker.huey_app import huey, settings
from worker.maintenance import start_maintenance
from worker.runtime import get_runtime
from worker.tasks import generate_reply

configure_logging(settings.log_level)
# huey_consumer gives the "huey" logger a handler of its own; don't print its lines twice.
logging.getLogger("huey").propagate = False


@huey.on_startup()
def begin_upkeep() -> None:
    start_maintenance(get_runtime(), generate_reply, evaluate_session)


__all__ = ["huey"]
