"""The Huey instance, configured from CHATTRAIN_* settings.

Tasks import it from here; the consumer is pointed at `worker.main.huey`, which imports
the tasks too (Huey's registry keys tasks by module and name, so the web side must import
them through the same path)."""

from shared.settings import load_settings
from worker.queue import create_huey

settings = load_settings()
huey = create_huey(settings)
