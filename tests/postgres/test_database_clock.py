"""A reply job's times on PostgreSQL come from the database's clock, and whoever compares
them (the worker deciding whether a job expired, the sweep, /api/health) uses that clock
too: a host whose clock runs an hour fast or slow changes nothing. Each test moves one
process's clock by an hour; on one machine every clock agrees, so nothing else would show it."""

from __future__ import annotations

import time
from types import SimpleNamespace

from sqlalchemy import text, update

from shared.conversation.writes import accept_trainee_message, retry_reply
from shared.db import jobs as job_rows
from shared.db.schema import reply_jobs
from shared.masking.policy import MaskingPolicy
from tests.shared.training.test_loop import _start
from worker.maintenance import heartbeat, sweep
from worker.tasks import run_reply_job

AN_HOUR = 3600.0
EXPIRY_SECONDS = 600.0


def _host_clock(offset: float) -> SimpleNamespace:
    """A stand-in for a module's `time`: this host's clock, `offset` seconds off."""
    return SimpleNamespace(time=lambda: time.time() + offset, perf_counter=time.perf_counter, monotonic=time.monotonic)


def _database_now(conn) -> float:  # noqa: ANN001
    return conn.execute(text("SELECT extract(epoch from clock_timestamp())::float8")).scalar_one()


def _say(runtime, session_id: int) -> int:  # noqa: ANN001
    with runtime.write_engine.begin() as conn:
        return accept_trainee_message(
            conn,
            session_id=session_id,
            content="Hello, my order is late.",
            client_message_id=None,
            masking=MaskingPolicy(enabled=False, secret=b"k"),
            reply_expiry_seconds=EXPIRY_SECONDS,
        ).message_id


def test_a_reply_job_is_enqueued_and_expires_by_the_database_clock(runtime, monkeypatch):
    monkeypatch.setattr("shared.conversation.writes.time", _host_clock(AN_HOUR))  # a web host an hour fast
    message_id = _say(runtime, _start(runtime, runtime.catalog.by_slug["customer-service"]))

    with runtime.reading() as conn:
        job = job_rows.select_reply_job(conn, message_id)
        now = _database_now(conn)
    assert now - 5 < job["enqueued_at"] <= now
    assert now + EXPIRY_SECONDS - 5 < job["expires_at"] <= now + EXPIRY_SECONDS


def test_a_retried_reply_job_gets_its_new_expiry_from_the_database_clock(runtime, monkeypatch):
    session_id = _start(runtime, runtime.catalog.by_slug["customer-service"])
    message_id = _say(runtime, session_id)
    with runtime.write_engine.begin() as conn:
        job_rows.finish_reply_job(conn, message_id, status="failed", last_error="llm_timeout")
    monkeypatch.setattr("shared.conversation.writes.time", _host_clock(-AN_HOUR))  # a web host an hour slow
    with runtime.write_engine.begin() as conn:
        retry_reply(conn, session_id=session_id, message_id=message_id, reply_expiry_seconds=EXPIRY_SECONDS)

    with runtime.reading() as conn:
        job = job_rows.select_reply_job(conn, message_id)
        now = _database_now(conn)
    assert job["status"] == "queued"
    assert now + EXPIRY_SECONDS - 5 < job["expires_at"] <= now + EXPIRY_SECONDS


def test_a_worker_whose_clock_runs_fast_answers_a_fresh_job_instead_of_expiring_it(runtime, monkeypatch):
    message_id = _say(runtime, _start(runtime, runtime.catalog.by_slug["customer-service"]))
    monkeypatch.setattr("worker.tasks.time", _host_clock(AN_HOUR))  # its host is an hour ahead

    run_reply_job(runtime, message_id)

    with runtime.reading() as conn:
        assert job_rows.select_reply_job(conn, message_id)["status"] == "done"


def test_a_sweep_on_a_fast_host_leaves_a_freshly_queued_job_alone(runtime, monkeypatch):
    _say(runtime, _start(runtime, runtime.catalog.by_slug["customer-service"]))
    monkeypatch.setattr("worker.maintenance.time", _host_clock(AN_HOUR))
    enqueued: list[int] = []

    assert sweep(runtime, enqueued.append) == 0
    assert enqueued == []


def test_a_sweep_on_a_slow_host_recovers_a_job_queued_too_long_ago_by_the_database_clock(runtime, monkeypatch):
    message_id = _say(runtime, _start(runtime, runtime.catalog.by_slug["customer-service"]))
    with runtime.write_engine.begin() as conn:  # its queue entry was lost ten minutes ago
        conn.execute(update(reply_jobs).values(enqueued_at=text("extract(epoch from clock_timestamp()) - 600")))
    monkeypatch.setattr("worker.maintenance.time", _host_clock(-AN_HOUR))
    enqueued: list[int] = []

    assert sweep(runtime, enqueued.append) == 1
    assert enqueued == [message_id]


async def test_health_sees_a_live_worker_from_a_web_host_whose_clock_runs_fast(runtime, app, users, monkeypatch):
    heartbeat(runtime)  # stamped by the database's clock
    monkeypatch.setattr("web.blueprints.health.time", _host_clock(AN_HOUR))

    body = await (await app.test_client().get("/api/health", headers=users.trainee.headers)).get_json()

    assert body["worker"]["alive"] is True
    assert body["worker"]["seconds_since_seen"] < 60
