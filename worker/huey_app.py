"""The Huey instance, configured from a Settings object.

Tasks register on it at import (worker/tasks.py, worker/evaluation.py), so it exists from
import on, but it reads no environment then: until `configure_huey(settings)` it has no
queue, and enqueueing is an error. The web side configures it in `create_app(settings)`
(through web/reply_queue.py, its one way to the worker), the consumer in its target module, `worker.main`, which imports the tasks too (Huey's
registry keys tasks by module and name, so the web side imports them through the same
paths)."""

from __future__ import annotations

from huey.storage import BaseStorage

from shared.settings import Settings
from worker.queue_storage import ChatTrainHuey, create_queue_storage


class NoQueue(BaseStorage):
    """The storage of a Huey instance not configured yet: using it is an error."""

    def _unconfigured(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("The queue is not configured: call worker.huey_app.configure_huey(settings) first")

    enqueue = dequeue = queue_size = enqueued_items = flush_queue = _unconfigured
    add_to_schedule = read_schedule = schedule_size = scheduled_items = flush_schedule = _unconfigured


huey = ChatTrainHuey("chattrain", storage_class=NoQueue, results=False, utc=True)
_settings: Settings | None = None


def configure_huey(settings: Settings) -> None:
    """Point the Huey instance at the queue file `settings` names (and remember them for
    the worker's runtime, worker/runtime.py)."""
    global _settings
    huey.storage = create_queue_storage(settings, huey.name)
    _settings = settings


def configured_settings() -> Settings:
    """The settings configure_huey was given."""
    if _settings is None:
        raise RuntimeError("The queue is not configured: call worker.huey_app.configure_huey(settings) first")
    return _settings
