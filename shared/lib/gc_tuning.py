"""Keep the garbage collector's full passes short.

A web or worker process starts with a few hundred thousand long-lived objects (Quart,
SQLAlchemy, Hypercorn, the scenarios, libphonenumber's metadata). CPython's full
collection walks all of them, and with the event loop stopped meanwhile, every socket's
next frame waits. `gc.freeze()` once start-up is done moves them to a generation the
collector never scans again, so a full pass only walks what was allocated since."""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect once, then exclude every object alive now from later collections.
    Returns how many objects were frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "froze %d start-up objects for the garbage collector in %.1f ms", frozen, (time.perf_counter() - started) * 1000
    )
    return frozen
