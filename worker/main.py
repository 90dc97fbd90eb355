"""Consumer entry point: `huey_consumer worker.main.huey`.

Importing this module registers the tasks (replies and evaluations) and the start-up
hook that begins the heartbeat and the recovery sweep."""

import logging
import threading

from shared.gc_tuning import freeze_startup_objects
from shared.logs import configure_logging
from worker.evaluation import evaluate_session
from worker.huey_app import huey, settings
from worker.maintenance import start_maintenance
from worker.runtime import get_runtime
from worker.tasks import generate_reply

configure_logging(settings.log_level)
# huey_consumer gives the "huey" logger a handler of its own; don't print its lines twice.
logging.getLogger("huey").propagate = False


_started_up = threading.Lock()


@huey.on_startup()
def begin_upkeep() -> None:
    """Runs in every worker thread as it starts; the first one does the process's part."""
    runtime = get_runtime()
    start_maintenance(runtime, generate_reply, evaluate_session)
    if _started_up.acquire(blocking=False):
        runtime.scenarios  # noqa: B018  (loaded now, so they are frozen with the rest)
        freeze_startup_objects()


__all__ = ["huey"]
