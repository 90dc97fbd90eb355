"""Consumer entry point: the Procfile's `python -m gevent.monkey --module
huey.bin.huey_consumer worker.main.huey --worker-type greenlet`.

Each reply spends seconds waiting on the model, so the consumer runs its workers as
greenlets: hundreds of replies in flight in one process, each holding far less memory
than a thread would (docs/performance.md, Design measurements). gevent's patching must
come before anything opens a socket, takes a lock or sleeps: `python -m gevent.monkey`
patches before the consumer imports anything. Started as plain `huey_consumer
worker.main.huey`, the consumer has imported ssl, redis and psycopg before this module
runs, so this module patches as its first act (gevent then warns that it is late) and
repairs what it can below. Only the consumer imports this module (the web process and the
tests import worker.tasks directly and run unpatched, where the same code runs on
threads).

Importing this module registers the tasks (replies and evaluations) and the start-up
hook that begins the heartbeat and the recovery sweep."""

import warnings

from gevent import monkey

# Already done under `python -m gevent.monkey` (then this does nothing). Under plain
# huey_consumer gevent warns here about the modules imported first; the warning is held
# and written once logging is configured, so that it takes the configured format.
with warnings.catch_warnings(record=True) as _patch_warnings:
    warnings.simplefilter("always")
    monkey.patch_all()

# psycopg chooses how to wait for the server when it is imported. Under plain
# huey_consumer it was imported before select was patched (huey.storage offers a
# PostgreSQL queue): it chose its C wait, which blocks the whole process, every greenlet,
# for each round trip to PostgreSQL. The poll wait on gevent's patched select is what psycopg picks under
# gevent when imported after the patch: it lets the other greenlets run meanwhile.
# (psycopg is the postgresql extra; without it the database is SQLite: nothing to patch.
# `psycopg.waiting.wait` is psycopg's internal: pyproject.toml bounds psycopg's version.)
try:
    from psycopg import waiting as _psycopg_waiting
except ImportError:
    pass
else:
    _psycopg_waiting.wait = _psycopg_waiting.wait_poll

import logging  # noqa: E402
import threading  # noqa: E402

from shared.lib.backend_urls import BackendUnavailable  # noqa: E402
from shared.lib.gc_tuning import freeze_startup_objects  # noqa: E402
from shared.lib.logs import adopt_handlers, configure_logging  # noqa: E402
from shared.llm.tokens import count_tokens  # noqa: E402
from shared.settings import SecretKeyMissing, load_settings  # noqa: E402
from shared.training.embedding import default_embedder  # noqa: E402
from worker.huey_app import configure_huey, huey  # noqa: E402

# The consumer's settings, read once here; the tasks below register on the same instance.
settings = load_settings()
try:
    configure_huey(settings)
except BackendUnavailable as error:  # one line, not a traceback
    raise SystemExit(f"chattrain worker: {error}") from None

from worker.evaluation import evaluate_session  # noqa: E402
from worker.maintenance import start_maintenance  # noqa: E402
from worker.runtime import get_runtime  # noqa: E402
from worker.tasks import generate_reply, waiting_reply_ids  # noqa: E402

configure_logging(settings.log_level, settings.log_format)
try:
    # Refuse to start without a masking key (shared/settings.py) rather than fail each reply.
    settings.masking_key  # noqa: B018
except SecretKeyMissing as error:  # one line, not a traceback
    raise SystemExit(f"chattrain worker: {error}") from None
for _warning in _patch_warnings:
    warnings.warn_explicit(_warning.message, _warning.category, _warning.filename, _warning.lineno)
# huey_consumer gives the "huey" logger a handler of its own; don't print its lines twice.
logging.getLogger("huey").propagate = False


_started_up = threading.Lock()


@huey.on_startup()
def begin_upkeep() -> None:
    """Runs in every worker as it starts; the first one does the process's part."""
    if _started_up.acquire(blocking=False):
        # huey_consumer has given the "huey" logger its handler by now: in JSON mode its
        # lines are JSON too.
        adopt_handlers(logging.getLogger("huey"))
        runtime = get_runtime()
        start_maintenance(runtime, generate_reply, evaluate_session, waiting_reply_ids)
        # Loaded now rather than by the first replies: an import or a vocabulary load
        # blocks every greenlet of the process while it runs. (And loaded objects are
        # frozen with the rest.)
        runtime.catalog  # noqa: B018
        runtime.provider  # noqa: B018
        count_tokens("warm")
        default_embedder().embed_cached("warm")  # the judge's vector table
        freeze_startup_objects()


__all__ = ["huey"]
