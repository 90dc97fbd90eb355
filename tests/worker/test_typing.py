"""A reply's `typing` (worker/streaming.py schedules it on worker/delayed_writes.py): written
only for a reply still being generated after its delay, never after the reply, a delta or
a failure, and it claims the job for the run that is generating it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.conversation.frames import SentText, assistant_delta_event, event_text
from shared.conversation.writes import write_typing
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db.migrate import upgrade_to_head
from shared.settings import Settings
from tests.support.replies import queued_message
from tests.support.stack import REPO_ROOT
from worker.delayed_writes import DelayedWrites, PendingWrite
from worker.runtime import WorkerRuntime

DELAY = 0.05


@pytest.fixture(name="runtime")
def _runtime(tmp_path: Path) -> WorkerRuntime:
    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")
    settings.data_dir.mkdir(parents=True)
    upgrade_to_head(settings.resolved_database_url)
    return WorkerRuntime(settings)


CLAIMANT = "host:1:abc:run1"


def _job(runtime: WorkerRuntime, message_id: int) -> dict:
    with runtime.engine.connect() as conn:
        return job_rows.select_reply_job(conn, message_id)


def _typing_events(runtime: WorkerRuntime, session_id: int) -> list:
    with runtime.engine.connect() as conn:
        return [e for e in event_rows.select_session_events_after(conn, session_id, 0) if e.type == "typing"]


def _delayed_writes(runtime: WorkerRuntime, wakeups: list, **options) -> DelayedWrites:  # noqa: ANN003
    return DelayedWrites(runtime.write, lambda: wakeups.append(1), DELAY, **options)


def _schedule_typing(writes: DelayedWrites, session_id: int, message_id: int, claimant: str) -> PendingWrite:
    """What worker/streaming.py schedules when a reply starts."""

    def typing(conn) -> bool:  # noqa: ANN001
        return write_typing(conn, session_id=session_id, message_id=message_id, claimant=claimant, claim_seconds=10)

    return writes.schedule(typing, session_id=session_id)


def test_a_slow_reply_gets_typing_after_the_delay_and_its_run_holds_the_job(runtime: WorkerRuntime) -> None:
    session_id, message_id = queued_message(runtime)
    wakeups: list = []
    writes = _delayed_writes(runtime, wakeups)
    started = time.monotonic()
    _schedule_typing(writes, session_id, message_id, CLAIMANT)
    deadline = started + 5
    # The wake-up follows the commit, so the event can be read a moment before it.
    while not (_typing_events(runtime, session_id) and wakeups) and time.monotonic() < deadline:
        time.sleep(0.01)
    (typing,) = _typing_events(runtime, session_id)
    assert time.monotonic() - started >= DELAY
    assert event_text(typing).endswith(f'"reply_to":{message_id}}}')
    assert wakeups == [1]
    job = _job(runtime, message_id)
    assert (job["status"], job["worker_id"], job["attempts"]) == ("working", CLAIMANT, 1)


def test_a_reply_that_cancels_its_typing_within_the_delay_gets_none(runtime: WorkerRuntime) -> None:
    session_id, message_id = queued_message(runtime)
    wakeups: list = []
    writes = _delayed_writes(runtime, wakeups)
    writes.cancel(_schedule_typing(writes, session_id, message_id, CLAIMANT))
    # A second, slow reply in the same session proves the thread ran past the first's due time.
    _, other_id = queued_message(runtime)
    _schedule_typing(writes, session_id, other_id, "host:1:abc:run2")
    time.sleep(DELAY * 6)
    typing = _typing_events(runtime, session_id)
    assert [event_text(e).endswith(f'"reply_to":{other_id}}}') for e in typing] == [True]
    assert _job(runtime, message_id)["status"] == "queued"  # the fast one was never claimed


@pytest.mark.parametrize("state", ["done", "failed", "claimed by another run", "delta sent"])
def test_no_typing_once_the_reply_moved_on(runtime: WorkerRuntime, state: str) -> None:
    session_id, message_id = queued_message(runtime)
    with runtime.write_engine.begin() as conn:
        if state == "delta sent":
            job_rows.claim_reply_job(conn, message_id, claimant=CLAIMANT, now=time.time(), claim_seconds=10)
            event_rows.insert_event(
                conn,
                session_id=session_id,
                frame=assistant_delta_event(message_id, SentText(), "Fine"),
                message_id=message_id,
            )
        elif state == "claimed by another run":
            job_rows.claim_reply_job(conn, message_id, claimant="host:2:def:other", now=time.time(), claim_seconds=10)
        else:
            job_rows.finish_reply_job(conn, message_id, status=state)
        assert (
            write_typing(conn, session_id=session_id, message_id=message_id, claimant=CLAIMANT, claim_seconds=10)
            is False
        )
    assert _typing_events(runtime, session_id) == []


def test_claiming_a_job_counts_a_run_once_and_respects_a_live_claim(runtime: WorkerRuntime) -> None:
    _, message_id = queued_message(runtime)
    now = time.time()
    with runtime.write_engine.begin() as conn:
        first = job_rows.claim_reply_job(conn, message_id, claimant=CLAIMANT, now=now, claim_seconds=10)
        again = job_rows.claim_reply_job(conn, message_id, claimant=CLAIMANT, now=now + 1, claim_seconds=10)
        other = job_rows.claim_reply_job(conn, message_id, claimant="host:2:def:other", now=now + 2, claim_seconds=10)
        after_expiry = job_rows.claim_reply_job(
            conn, message_id, claimant="host:2:def:other", now=now + 12, claim_seconds=10
        )
    assert first["attempts"] == 1 and again["attempts"] == 1  # renewing is not a new run
    assert again["claim_expires_at"] == now + 11
    assert other is None  # the first run's claim is live
    assert after_expiry["worker_id"] == "host:2:def:other" and after_expiry["attempts"] == 2


def test_the_thread_stays_awake_while_fast_replies_keep_starting(runtime: WorkerRuntime) -> None:
    """It sleeps for good only after a second in which no reply started; waking it for
    every fast reply would put a thread switch on each one's path."""
    idle_after = 1.0
    session_id, message_id = queued_message(runtime)
    writes = _delayed_writes(runtime, [], idle_after_seconds=idle_after)
    asleep_at_start = []  # a reply starting while the thread sleeps for good must wake it
    for _ in range(int(idle_after * 1.5 / DELAY)):
        asleep_at_start.append(writes._asleep)
        writes.cancel(_schedule_typing(writes, session_id, message_id, CLAIMANT))
        time.sleep(DELAY)
    assert not any(asleep_at_start)
    deadline = time.monotonic() + idle_after + 2
    while not writes._asleep and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writes._asleep  # and once nothing starts, it does sleep
