"""What keeps a slow model's reply safe and bounded in the worker: the heartbeat extends
the claims on the replies this process is generating, the model's slots bound the calls
at once and count who waits, and the sweep re-enqueues only the jobs that lost their worker
or their queue entry."""

from __future__ import annotations

import threading
import time

from shared.conversation.writes import accept_trainee_message, write_opening_line
from shared.db import jobs as job_rows
from shared.db import sessions as session_rows
from shared.db.dbclock import select_now
from shared.db.scenario_rows import select_scenario_ids
from shared.db.schema import reply_jobs
from shared.db.workers import select_model_calls
from shared.masking.policy import MaskingPolicy
from worker.maintenance import heartbeat, sweep
from worker.runtime import WorkerRuntime
from worker.streaming import ModelSlots


def _queued_message(runtime: WorkerRuntime) -> int:
    with runtime.write_engine.begin() as conn:
        scenario_id = select_scenario_ids(conn)["customer-service"]
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        write_opening_line(conn, session_id=session_id, content="I can't log in.")
        accepted = accept_trainee_message(
            conn,
            session_id=session_id,
            content="Sorry to hear that.",
            client_message_id=None,
            masking=MaskingPolicy(enabled=False, secret=b"k"),
            reply_expiry_seconds=600,
        )
    return accepted.message_id


def test_the_heartbeat_extends_this_processes_claims_so_a_stalled_reply_is_not_swept(runtime: WorkerRuntime) -> None:
    ours, theirs = _queued_message(runtime), _queued_message(runtime)
    # Claims that end in a second (or ended already) by either clock: PostgreSQL stamps
    # claims with its own and ignores the `now` passed in (shared/db/dbclock.py).
    with runtime.write_engine.begin() as conn:
        now = select_now(conn, time.time())
        job_rows.claim_reply_job(conn, ours, claimant=f"{runtime.worker_id}:run1", now=now, claim_seconds=1)
        job_rows.claim_reply_job(conn, theirs, claimant="otherhost:7:abcd1234:run2", now=now, claim_seconds=1)
    heartbeat(runtime)
    with runtime.reading() as conn:
        ours_job, theirs_job = job_rows.select_reply_job(conn, ours), job_rows.select_reply_job(conn, theirs)
    assert ours_job["claim_expires_at"] >= now + runtime.settings.reply_claim_seconds - 1
    assert theirs_job["claim_expires_at"] < now + 2  # another process's run is its own business

    enqueued: list[int] = []
    with runtime.write_engine.begin() as conn:  # time passes: their claim runs out, ours was extended
        job_rows.claim_reply_job(conn, theirs, claimant="otherhost:7:abcd1234:run2", now=now, claim_seconds=-10)
    sweep(runtime, enqueued.append)
    assert enqueued == [theirs]


def test_an_expired_claim_is_not_extended(runtime: WorkerRuntime) -> None:
    message_id = _queued_message(runtime)
    now = time.time()
    with runtime.write_engine.begin() as conn:  # ran out 20 s ago by either clock
        job_rows.claim_reply_job(conn, message_id, claimant=f"{runtime.worker_id}:run1", now=now, claim_seconds=-20)
        assert job_rows.extend_claims(conn, worker_id=runtime.worker_id, now=now, claim_seconds=10) == 0


def test_model_slots_bound_the_calls_at_once_and_count_the_waiting() -> None:
    slots = ModelSlots(2)
    inside, most, release = [0], [0], threading.Event()
    lock = threading.Lock()

    def call() -> None:
        with slots.held():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            release.wait(5)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while (slots.in_use, slots.waiting) != (2, 3) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (slots.in_use, slots.waiting) == (2, 3)
    release.set()
    for thread in threads:
        thread.join(5)
    assert most[0] == 2 and (slots.in_use, slots.waiting) == (0, 0)


def test_the_heartbeat_publishes_the_model_calls_for_health(runtime: WorkerRuntime) -> None:
    runtime.model_slots.in_use, runtime.model_slots.waiting = 3, 4
    heartbeat(runtime)
    with runtime.reading() as conn:
        assert select_model_calls(conn, seen_since=time.time() - 60) == (3, 4)
        assert select_model_calls(conn, seen_since=time.time() + 60) == (0, 0)  # no live worker


def test_a_long_queued_job_is_enqueued_again_only_when_its_entry_left_the_queue(runtime: WorkerRuntime) -> None:
    waiting, lost = _queued_message(runtime), _queued_message(runtime)
    with runtime.write_engine.begin() as conn:  # both queued longer than a claim's time
        old = select_now(conn, time.time()) - runtime.settings.reply_claim_seconds - 5
        conn.execute(reply_jobs.update().where(reply_jobs.c.message_id.in_([waiting, lost])).values(enqueued_at=old))
    asked: list[bool] = []

    def waiting_replies() -> set[int]:
        asked.append(True)
        return {waiting}

    enqueued: list[int] = []
    assert sweep(runtime, enqueued.append, waiting_replies=waiting_replies) == 1
    assert enqueued == [lost] and asked == [True]
    # Nothing queued that long now (the lost one was enqueued again just now): the queue's
    # entries are not read at all.
    asked.clear()
    with runtime.write_engine.begin() as conn:
        conn.execute(reply_jobs.update().where(reply_jobs.c.message_id == waiting).values(status="done"))
    assert sweep(runtime, enqueued.append, waiting_replies=waiting_replies) == 0
    assert asked == []
