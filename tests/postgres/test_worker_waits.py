"""The worker consumer runs its replies as greenlets: a greenlet waiting on PostgreSQL must
let the others run. huey_consumer imports psycopg before worker.main patches the standard
library, and psycopg then picked its C wait, which blocks the whole process: under load
every round trip of every reply queued behind every other."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.stack import REPO_ROOT

# As huey_consumer does: its own imports first, then the target module. Then one greenlet
# waits for an advisory lock that the other releases. If the wait blocks the process, the
# other cannot run until the lock timeout ends the wait.
AS_THE_CONSUMER = """
import huey.bin.huey_consumer
import worker.main
import gevent, psycopg
from psycopg import waiting

url = worker.main.settings.resolved_database_url.replace("postgresql+psycopg://", "postgresql://")
holder, waiter = psycopg.connect(url, autocommit=True), psycopg.connect(url, autocommit=True)
holder.execute("SELECT pg_advisory_lock(42)")
waiter.execute("SET lock_timeout = '20s'")
seen = {}

def wait_for_lock():
    try:
        waiter.execute("SELECT pg_advisory_lock(42)")
        seen["waiter"] = "got the lock"
    except psycopg.errors.LockNotAvailable:
        seen["waiter"] = "timed out"

def release():
    seen["released while the other waited"] = "waiter" not in seen
    holder.execute("SELECT pg_advisory_unlock(42)")

gevent.joinall([gevent.spawn(wait_for_lock), gevent.spawn(release)])
print(waiting.wait.__name__, seen)
"""


def test_a_greenlet_waiting_on_postgresql_lets_the_others_run(tmp_path, migrated_url):
    env = {**os.environ, "CHATTRAIN_DATA_DIR": str(tmp_path), "CHATTRAIN_DATABASE_URL": migrated_url}
    result = subprocess.run(
        [sys.executable, "-c", AS_THE_CONSUMER], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "{'released while the other waited': True, 'waiter': 'got the lock'}" in result.stdout, result.stdout
