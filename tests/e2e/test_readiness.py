"""/readyz follows the real servers and processes: it turns 503, naming the failed check,
within seconds of the database or the queue going away (PostgreSQL and Redis reached
through forwarders the test controls, tests/support/forwarder.py) and within the
heartbeat window of the worker stopping, and back to 200 once each returns. /livez stays
200 throughout: the web process itself never stopped."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from shared.db.workers import heartbeat_window_seconds
from tests.support.forwarder import routed_through_forwarders
from tests.support.servers import backends_for
from tests.support.stack import Stack, started_stack

pytestmark = pytest.mark.e2e

SWEEP_SECONDS = 1.0
FAST = {"CHATTRAIN_SWEEP_INTERVAL_SECONDS": str(SWEEP_SECONDS), "CHATTRAIN_REPLY_CLAIM_SECONDS": "5"}
# A server that went away is noticed by the next evaluation: the verdict is kept a second
# and each check waits at most two, so ten seconds is ample on a loaded machine.
NOTICED_WITHIN_SECONDS = 10.0
# A server that came back is used again once the process reconnects (its backoff tops at
# five seconds: shared/lib/outages.py).
RECOVERED_WITHIN_SECONDS = 30.0
# A stopped worker stops beating; its last heartbeat ages out of the window.
WORKER_GONE_WITHIN_SECONDS = heartbeat_window_seconds(SWEEP_SECONDS) + 10


def _readyz(stack: Stack) -> httpx.Response:
    return httpx.get(f"{stack.base_url}/readyz", timeout=10)


def wait_for_readyz(stack: Stack, status: int, within: float, failed: list[str] | None = None) -> tuple[dict, float]:
    """Poll /readyz until it answers `status` (with exactly these failed checks, when
    given); return its body and how long that took."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < within:
        response = _readyz(stack)
        last = (response.status_code, response.text)
        if response.status_code == status and (failed is None or response.json()["failed"] == failed):
            assert httpx.get(f"{stack.base_url}/livez", timeout=5).status_code == 200
            return response.json(), time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"/readyz not {status} {failed or ''} within {within} s; last: {last}")


def test_readyz_follows_the_database_the_queue_and_the_worker(tmp_path: Path):
    with ExitStack() as cleanup:
        backends = cleanup.enter_context(backends_for("postgresql+redis"))
        routed, forwarders = cleanup.enter_context(routed_through_forwarders(backends))
        database, queue = forwarders["postgresql"], forwarders["redis"]
        stack = Stack(data_dir=tmp_path / "data", backends=routed, extra_env=dict(FAST))
        cleanup.callback(stack.stop_all)
        stack.start_all(timeout=60)
        body, _ = wait_for_readyz(stack, 200, RECOVERED_WITHIN_SECONDS)
        assert body["checks"]["workers"] == {"ok": True, "detail": "1 live", "latency_ms": None}

        taken = {}
        for name, forwarder, failed in (
            ("database", database, ["database", "workers"]),  # the workers are read from it
            ("queue", queue, ["queue"]),
        ):
            forwarder.take_away()
            body, taken[f"{name} away"] = wait_for_readyz(stack, 503, NOTICED_WITHIN_SECONDS, failed)
            assert body["status"] == "unready" and body["checks"][name]["ok"] is False
            # Said without the server's address.
            assert str(forwarder.port) not in str(body) and "127.0.0.1" not in str(body), body
            forwarder.bring_back()
            _, taken[f"{name} back"] = wait_for_readyz(stack, 200, RECOVERED_WITHIN_SECONDS)

        stack.stop("worker")
        body, taken["worker stopped"] = wait_for_readyz(stack, 503, WORKER_GONE_WITHIN_SECONDS, ["workers"])
        assert "heartbeat" in body["checks"]["workers"]["detail"]
        stack.start("worker")
        _, taken["worker back"] = wait_for_readyz(stack, 200, RECOVERED_WITHIN_SECONDS)
        print("readyz turned after (s):", {name: round(seconds, 1) for name, seconds in taken.items()})


def test_readyz_turns_503_when_the_only_worker_stops_on_the_default_install(tmp_path: Path):
    with started_stack(tmp_path / "data", **FAST) as stack:
        wait_for_readyz(stack, 200, RECOVERED_WITHIN_SECONDS)
        stack.stop("worker")
        _, seconds = wait_for_readyz(stack, 503, WORKER_GONE_WITHIN_SECONDS, ["workers"])
        stack.start("worker")
        wait_for_readyz(stack, 200, RECOVERED_WITHIN_SECONDS)
        print(
            f"readyz 503 {seconds:.1f} s after the worker stopped (heartbeat window {heartbeat_window_seconds(SWEEP_SECONDS):g} s)"
        )
