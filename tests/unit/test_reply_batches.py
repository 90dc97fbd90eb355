"""Reply jobs run together (worker/tasks.py): the worker takes the generate_reply tasks
queued behind the one it runs, writes their replies in one transaction, retries a reply
whose write fails on its own without holding back the others, and puts every job of an
interrupted batch back on the queue. On a real SQLite file with the worker's engine."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event

from shared.conversation import accept_trainee_message, write_opening_line
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import sessions as session_rows
from shared.llm.mock import MockProvider
from worker import tasks
from worker.huey_app import huey
from worker.runtime import WorkerRuntime

LINE = "I'm so sorry, I understand. Let me reset your password and send a reset link by email."


@pytest.fixture(name="queue")
def _queue(monkeypatch: pytest.MonkeyPatch):
    """The consumer's Huey instance, emptied, its scheduled retries recorded instead."""
    huey.storage.flush_queue()
    scheduled: list[int] = []
    monkeypatch.setattr(tasks.generate_reply, "schedule", lambda args, delay: scheduled.append(args[0]))
    monkeypatch.setattr(huey.storage, "_draining", False)
    yield scheduled
    huey.storage.flush_queue()


def _trainee_message(runtime: WorkerRuntime) -> tuple[int, int]:
    """A new session of the customer-service scenario with one trainee line; returns
    (session id, message id)."""
    scenario = runtime.scenarios["customer-service"]
    scenario_id = {slug: sid for sid, slug in runtime.scenario_slugs.items()}[scenario.slug]
    with runtime.writing() as conn:
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        write_opening_line(conn, session_id=session_id, content=scenario.opening_line)
        accepted = accept_trainee_message(
            conn, session_id=session_id, content=LINE, client_message_id=None,
            masking=runtime.masking, reply_expiry_seconds=300,
        )
    return session_id, accepted.message_id


@pytest.fixture(name="commits")
def _commits(runtime: WorkerRuntime):
    """A function returning how many transactions the worker's engine has committed."""
    committed = []
    event.listen(runtime.engine, "commit", committed.append)  # the runtime is this test's own
    return lambda: len(committed)


def _event_types(runtime: WorkerRuntime, session_id: int) -> list[tuple[str, int | None]]:
    with runtime.reading() as conn:
        events = event_rows.select_session_events_after(conn, session_id, 0)
    return [(event.type, event.id) for event in events]


def _job(runtime: WorkerRuntime, message_id: int) -> dict:
    with runtime.reading() as conn:
        return job_rows.select_reply_job(conn, message_id)


def test_replies_run_together_are_written_in_one_transaction(runtime, queue, commits):
    asked = [_trainee_message(runtime) for _ in range(3)]
    before = commits()
    tasks.run_reply_jobs(runtime, [message_id for _, message_id in asked])
    assert commits() - before == 1
    for session_id, message_id in asked:
        types = [event_type for event_type, _ in _event_types(runtime, session_id)]
        assert types == ["assistant_message", "assistant_message", "feedback"]  # opening line, reply, feedback
        assert _job(runtime, message_id)["status"] == "done"


def test_a_reply_whose_write_fails_is_retried_alone_and_the_others_are_stored(runtime, queue, monkeypatch):
    asked = [_trainee_message(runtime) for _ in range(3)]
    failing_session = asked[1][0]
    record_reply = tasks.llm_accounting.record_reply

    def record_or_fail(conn, *, session_id, **kwargs):  # noqa: ANN001, ANN003
        if session_id == failing_session:
            raise RuntimeError("the usage table refused this row")
        return record_reply(conn, session_id=session_id, **kwargs)

    monkeypatch.setattr(tasks.llm_accounting, "record_reply", record_or_fail)
    tasks.run_reply_jobs(runtime, [message_id for _, message_id in asked])
    for session_id, message_id in asked:
        replied = [t for t, _ in _event_types(runtime, session_id)].count("assistant_message") == 2
        assert replied == (session_id != failing_session)
        job = _job(runtime, message_id)
        if session_id == failing_session:
            assert (job["status"], job["last_error"]) == ("queued", "internal_error")
        else:
            assert job["status"] == "done"
    assert queue == [asked[1][1]]  # the failed one is scheduled for a retry


def test_the_queued_reply_tasks_are_taken_and_other_tasks_left(runtime, queue):
    from worker.evaluation import evaluate_session

    tasks.generate_reply(11)
    evaluate_session(5)
    tasks.generate_reply(12)
    tasks.generate_reply(13)
    assert tasks._take_queued_replies(2) == [11, 12]
    assert tasks._take_queued_replies(5) == [13]
    assert huey.pending_count() == 1  # the evaluation
    assert huey.dequeue().name.endswith("evaluate_session")


def test_a_task_runs_the_replies_queued_behind_it(runtime, queue, commits, monkeypatch):
    asked = [_trainee_message(runtime) for _ in range(3)]
    monkeypatch.setattr(tasks, "get_runtime", lambda: runtime)
    for _, message_id in asked[1:]:
        tasks.generate_reply(message_id)
    before = commits()
    tasks.generate_reply.call_local(asked[0][1])
    assert commits() - before == 1
    assert huey.pending_count() == 0
    assert all(_job(runtime, message_id)["status"] == "done" for _, message_id in asked)


def test_an_interrupted_batch_puts_every_job_back_on_the_queue(runtime, queue, monkeypatch):
    asked = [_trainee_message(runtime) for _ in range(2)]
    monkeypatch.setattr(tasks, "get_runtime", lambda: runtime)
    with runtime.writing() as conn:
        for _, message_id in asked:
            job_rows.hold_reply_job(conn, message_id, holder="gone", now=0, lease_seconds=10)
    task = tasks.generate_reply.s(asked[0][1])
    monkeypatch.setitem(tasks._running, task.id, [message_id for _, message_id in asked])
    tasks.requeue_interrupted(None, task)
    assert [_job(runtime, message_id)["status"] for _, message_id in asked] == ["queued", "queued"]
    assert tasks._take_queued_replies(5) == [message_id for _, message_id in asked]


def test_only_a_provider_that_does_not_wait_answers_in_process():
    assert MockProvider().answers_in_process
    assert not MockProvider(first_chunk_ms=400).answers_in_process
    assert not MockProvider(chunks_per_second=40).answers_in_process


@pytest.mark.parametrize("in_process", [True, False])
def test_in_process_replies_run_one_thread_at_a_time_and_others_in_parallel(runtime, queue, monkeypatch, in_process):
    monkeypatch.setattr(tasks, "get_runtime", lambda: runtime)
    monkeypatch.setattr(runtime.provider, "answers_in_process", in_process)
    running, overlapped = [], []

    def run_slowly(_runtime, message_ids):  # noqa: ANN001
        running.append(message_ids[0])
        overlapped.append(len(running) > 1)
        time.sleep(0.2)
        running.remove(message_ids[0])

    monkeypatch.setattr(tasks, "run_reply_jobs", run_slowly)
    threads = [threading.Thread(target=tasks.generate_reply.call_local, args=(message_id,)) for message_id in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any(overlapped) == (not in_process)


def test_a_task_with_nothing_behind_it_when_dequeued_does_not_look_at_the_queue(runtime, queue, monkeypatch):
    first, second = _trainee_message(runtime), _trainee_message(runtime)
    monkeypatch.setattr(tasks, "get_runtime", lambda: runtime)
    monkeypatch.setattr(huey.storage, "saw_more_behind", lambda: False)
    tasks.generate_reply(second[1])  # queued after the first task was dequeued
    tasks.generate_reply.s(first[1]).execute()  # as the consumer runs it
    assert _job(runtime, first[1])["status"] == "done"
    assert _job(runtime, second[1])["status"] == "queued"
    assert huey.pending_count() == 1  # left for the next dequeue, which a ring prompts


def test_a_job_that_cannot_be_read_is_retried_alone_and_the_others_are_answered(runtime, queue, monkeypatch):
    asked = [_trainee_message(runtime) for _ in range(3)]
    broken = asked[0][1]
    original_prepare = tasks._prepare

    def prepare(runtime_, conn, job):  # noqa: ANN001
        if job["message_id"] == broken:
            raise KeyError("its scenario is gone")
        return original_prepare(runtime_, conn, job)

    monkeypatch.setattr(tasks, "_prepare", prepare)
    tasks.run_reply_jobs(runtime, [message_id for _, message_id in asked])
    jobs = [_job(runtime, message_id) for _, message_id in asked]
    assert (jobs[0]["status"], jobs[0]["last_error"]) == ("queued", "internal_error")
    assert [job["status"] for job in jobs[1:]] == ["done", "done"]
    assert queue == [broken]  # its retry is scheduled
