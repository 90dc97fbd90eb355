"""The reply job: step two of a message's path.

The web process stored the trainee's message and a reply_jobs row, then enqueued
`generate_reply(message_id)`. Here a worker claims that row (so a duplicate or stale
queue entry does nothing), streams the customer's reply from the LLM provider into
`assistant_delta` events (with `typing` first when the reply is slow, worker/typing.py),
and writes the reply, keyed by the message it answers, with its `assistant_message`
event. The database is the source of truth; the queue entry
only prompts the work, so running a job twice is harmless.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from huey.signals import SIGNAL_INTERRUPTED

from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared import llm_accounting, training_loop
from shared.conversation import write_error_event
from shared.llm import ChatTurn, LLMError, ReplyRequest
from worker.evaluation import evaluate_session
from worker.huey_app import huey
from worker.runtime import WorkerRuntime, get_runtime
from worker.streaming import DeltaBatcher

log = logging.getLogger("chattrain.worker")


# The message ids each running generate_reply task is answering (its own and any it took
# from the queue with it), by task id, so an interruption can put them all back.
_running: dict[str, list[int]] = {}


@huey.task(context=True)
def generate_reply(message_id: int, task=None) -> None:  # noqa: ANN001
    """Write the customer's reply to one trainee message (idempotent). With a provider
    that answers in-process, also the replies queued behind it, up to reply_batch_max."""
    runtime = get_runtime()
    task_id = task.id if task is not None else None
    if not runtime.provider.answers_in_process:
        _run(runtime, task_id, [message_id])
        return
    # Such replies are all CPU: two threads running them at once would only take turns
    # on the GIL and the write lock, paying a thread wake-up at each turn. So one thread
    # at a time runs them, with every reply queued when its turn comes. A thread that got
    # its turn at once, with nothing queued behind its task when it took it, skips the look.
    waited = not _in_process_turn.acquire(blocking=False)
    if waited:
        _in_process_turn.acquire()
    try:
        # (Run other than by the consumer, after no dequeue of its own, it looks.)
        more = waited or task is None or huey.storage.saw_more_behind()
        behind = _take_queued_replies(runtime.settings.reply_batch_max - 1) if more else []
        _run(runtime, task_id, [message_id, *behind])
    finally:
        _in_process_turn.release()


_in_process_turn = threading.Lock()


def _run(runtime: WorkerRuntime, task_id: str | None, message_ids: list[int]) -> None:
    _running[task_id] = message_ids
    try:
        run_reply_jobs(runtime, message_ids)
    finally:
        _running.pop(task_id, None)


def _take_queued_replies(limit: int) -> list[int]:
    """Message ids of generate_reply tasks waiting in the queue (not scheduled for later),
    removed from it. Should this process die before writing them, the sweep re-queues
    them from reply_jobs, as it does for a task Huey had dequeued."""
    name = huey._registry.task_to_string(generate_reply.task_class)

    def wanted(data: bytes) -> bool:
        message = huey.serializer.deserialize(data)
        return message.name == name and message.eta is None and len(message.args) == 1

    return [huey.serializer.deserialize(data).args[0] for data in huey.storage.take_queued(wanted, limit)]


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted(signal, task, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
    """A SIGTERM stopped the consumer mid-job: put the job back on the queue at once
    instead of waiting for its lease to run out."""
    if not isinstance(task, generate_reply.task_class):
        return
    huey.storage.stop_dequeuing()
    runtime = get_runtime()
    for message_id in _running.pop(task.id, [task.args[0]]):
        with runtime.writing() as conn:
            requeued = job_rows.requeue_reply_job(conn, message_id, now=time.time(), last_error="interrupted")
        if requeued:
            generate_reply(message_id)
            log.info("reply job requeued after interruption message_id=%s", message_id)


@dataclass
class _Prepared:
    """What one reply job read before generating: its job row and the LLM's request."""

    message_id: int
    job: dict[str, Any]
    scenario: Any
    request: ReplyRequest
    user_id: str
    emitted: str
    next_seq: int
    trainee_message: dict[str, Any] | None


@dataclass
class _Generated:
    """A reply generated and scored, ready for its write transaction."""

    prepared: _Prepared
    batcher: DeltaBatcher
    usage: Any
    feedback: Any
    found: list | None
    elapsed_ms: float


def run_reply_job(runtime: WorkerRuntime, message_id: int) -> None:
    """One run of a reply job (see run_reply_jobs)."""
    run_reply_jobs(runtime, [message_id])


def run_reply_jobs(runtime: WorkerRuntime, message_ids: list[int]) -> None:
    """One run of one or more reply jobs, on this thread.

    Each job is read, not claimed, at the start: a reply generated within one batch
    interval is written in a single transaction that claims the job, stores the reply and
    finishes the job together, so a fast reply takes the write lock once. Several jobs
    read together share one read transaction and their replies one write transaction. A
    slower reply is claimed by its first delta or its `typing` event (worker/typing.py),
    which is also when a lease matters: the sweeps only take jobs queued for half a
    minute or whose lease ran out. Two runs of one job (a duplicate queue entry) can both
    generate, but only the holder of the claim writes anything, and a reply is stored
    once (messages.reply_to is unique)."""
    now = time.time()
    holder = f"{runtime.worker_id}:{secrets.token_hex(3)}"
    prepared, expired, unreadable = [], [], []
    with runtime.reading() as conn:
        for message_id in message_ids:
            job = job_rows.select_reply_job(conn, message_id)
            if job is None or not job_rows.may_take(job, now):
                continue
            if now > job["expires_at"]:
                expired.append(message_id)
                continue
            try:
                prepared.append(_prepare(runtime, conn, job))
            except Exception:  # one job that cannot be read must not stop the others
                log.exception("reading a reply job failed message_id=%s", message_id)
                unreadable.append(job)
    for message_id in expired:
        _expire(runtime, message_id, holder)
    for job in unreadable:
        _handle_llm_error(runtime, job, LLMError("internal_error", "the job could not be read", retryable=True), holder)
    generated = [reply for reply in (_generate(runtime, each, holder) for each in prepared) if reply is not None]
    if generated:
        _write_replies(runtime, generated, holder)


def _prepare(runtime: WorkerRuntime, conn, job: dict[str, Any]) -> _Prepared:  # noqa: ANN001
    message_id, session_id = job["message_id"], job["session_id"]
    session = session_rows.select_session(conn, session_id)
    history = message_rows.select_recent_history(conn, session_id, message_id, limit=runtime.settings.llm_history_messages)
    assistant_turns = message_rows.count_assistant_messages_before(conn, session_id, message_id)
    emitted, next_seq = event_rows.select_streamed_deltas(conn, session_id, message_id)
    scenario = runtime.scenario_for(session["scenario_id"])
    request = ReplyRequest(
        scenario=scenario,
        history=tuple(ChatTurn(role=role, content=content) for role, content in history),
        session_id=session_id,
        reply_to=message_id,
        assistant_turns=assistant_turns,
    )
    return _Prepared(
        message_id=message_id,
        job=job,
        scenario=scenario,
        request=request,
        user_id=session["user_id"],
        emitted=emitted,
        next_seq=next_seq,
        trainee_message=message_rows.select_message(conn, message_id),
    )


def _generate(runtime: WorkerRuntime, prepared: _Prepared, holder: str) -> _Generated | None:
    """Stream the reply (writing deltas when it is slow) and score the trainee's line;
    None when the provider failed (the job is retried or the trainee told)."""
    settings = runtime.settings
    session_id, message_id, scenario = prepared.request.session_id, prepared.message_id, prepared.scenario
    started = time.monotonic()
    try:
        llm_accounting.check_daily_budget(runtime.engine, user_id=prepared.user_id, budget=settings.llm_daily_token_budget_per_user)
        batcher, usage = _stream_reply(runtime, prepared, holder)
    except LLMError as error:
        _handle_llm_error(runtime, prepared.job, error, holder)
        return None
    except Exception as error:  # a bug must not lose the reply: retry, then tell the trainee
        log.exception("reply job crashed session_id=%s message_id=%s", session_id, message_id)
        _handle_llm_error(runtime, prepared.job, LLMError("internal_error", type(error).__name__, retryable=True), holder)
        return None
    elapsed_ms = (time.monotonic() - started) * 1000
    trainee_message = prepared.trainee_message
    # Scored before the reply's transaction, so the write lock is not held for it.
    feedback = (
        training_loop.score_trainee_message(scenario, trainee_message["content"], prepared.request.assistant_turns - 1)
        if scenario.per_reply_feedback and trainee_message is not None and trainee_message["role"] == "user"
        else None
    )
    # Like scoring, the search for personal data in a reply that goes out whole runs
    # before the transaction; only the placeholders are put in with the lock held.
    found = runtime.masking.find(batcher.generated, tuple(scenario.masking_patterns)) if batcher.next_seq == 0 else None
    return _Generated(prepared, batcher, usage, feedback, found, elapsed_ms)


def _hold(runtime: WorkerRuntime, conn, message_id: int, holder: str) -> dict[str, Any] | None:  # noqa: ANN001
    return job_rows.hold_reply_job(
        conn, message_id, holder=holder, now=time.time(), lease_seconds=runtime.settings.reply_lease_seconds
    )


def _expire(runtime: WorkerRuntime, message_id: int, holder: str) -> None:
    """The job waited past its expiry: drop it and tell the trainee, once."""
    with runtime.writing() as conn:
        job = _hold(runtime, conn, message_id, holder)
        if job is None:
            return
        job_rows.finish_reply_job(conn, message_id, status="expired", last_error="expired")
        write_error_event(
            conn,
            session_id=job["session_id"],
            code="reply_expired",
            content="The reply took too long and was dropped; send a retry frame to try again.",
            message_id=message_id,
        )
    runtime.ring_web()
    log.info("reply job expired session_id=%s message_id=%s", job["session_id"], message_id)


def _session_masker(runtime: WorkerRuntime, conn, session_id: int, patterns: tuple):  # noqa: ANN001, ANN202
    """A mask function bound to this transaction: it keeps the session's vault current."""

    def mask(text: str, found: list | None = None) -> str:
        session_data: dict = {}

        def load_session_data() -> dict:
            session_data.update(session_rows.select_session(conn, session_id)["data"])
            return session_data

        masked, findings = runtime.masking.apply_loading(text, load_session_data, patterns, found=found)
        if findings:
            session_rows.update_session_data(conn, session_id, session_data)
        return masked

    return mask


def _stream_reply(runtime: WorkerRuntime, prepared: _Prepared, holder: str):  # noqa: ANN202
    """Run the provider, writing batched deltas; returns (batcher, usage)."""
    request = prepared.request
    session_id, message_id = request.session_id, prepared.message_id
    patterns = tuple(request.scenario.masking_patterns)
    batcher = DeltaBatcher(
        batch_seconds=runtime.settings.stream_batch_ms / 1000,
        emitted=prepared.emitted,
        next_seq=prepared.next_seq,
    )
    pending = runtime.typing.started(session_id, message_id, holder)
    try:
        stream = runtime.provider.stream_reply(request)
        for chunk in stream:
            if batcher.add(chunk):
                runtime.typing.settle(pending)
                _write_delta(runtime, session_id, message_id, batcher, patterns, holder)
    finally:
        runtime.typing.settle(pending)
    if not batcher.generated.strip():
        raise LLMError("llm_empty_reply", "The model returned an empty reply.", retryable=True)
    return batcher, stream.usage


def _write_delta(runtime: WorkerRuntime, session_id: int, message_id: int, batcher: DeltaBatcher, patterns, holder: str) -> None:  # noqa: ANN001
    with runtime.writing() as conn:
        delta = batcher.take_delta(_session_masker(runtime, conn, session_id, patterns))
        if delta is None:
            return
        if _hold(runtime, conn, message_id, holder) is None:
            raise LLMError("lease_lost", "Another worker took this reply over.", retryable=False)
        _insert_delta(conn, session_id, message_id, delta)
    runtime.ring_web()


def _insert_delta(conn, session_id: int, message_id: int, delta: dict[str, Any]) -> None:  # noqa: ANN001
    event_rows.insert_event(
        conn, session_id=session_id, type="assistant_delta", payload={"reply_to": message_id, **delta}, message_id=message_id
    )


def _write_replies(runtime: WorkerRuntime, replies: list[_Generated], holder: str) -> None:
    """Store generated replies in one write transaction. If that fails (a bug in one
    reply's write), each is written in a transaction of its own, so one bad reply does not
    hold the others back; a reply that cannot be written is retried like a failed LLM
    call, then reported to the trainee."""
    try:
        with runtime.writing() as conn:
            outcomes = [_store_reply(runtime, conn, reply, holder) for reply in replies]
    except Exception as error:
        if len(replies) > 1:
            log.exception("writing %d replies together failed; writing them one by one", len(replies))
            for reply in replies:
                _write_replies(runtime, [reply], holder)
            return
        prepared = replies[0].prepared
        log.exception("writing a reply failed session_id=%s message_id=%s", prepared.request.session_id, prepared.message_id)
        _handle_llm_error(runtime, prepared.job, LLMError("internal_error", type(error).__name__, retryable=True), holder)
        return
    if any(written for written, _ in outcomes):
        runtime.ring_web()
    for reply, (written, ended_by) in zip(replies, outcomes):
        session_id, message_id = reply.prepared.request.session_id, reply.prepared.message_id
        if ended_by is not None:
            evaluate_session(session_id)
            log.info("session completed session_id=%s ended_by=%s", session_id, ended_by)
        if written:
            log.debug(
                "reply written session_id=%s message_id=%s tokens=%s llm_ms=%.1f",
                session_id, message_id, reply.usage.completion_tokens, reply.elapsed_ms,
            )


def _store_reply(runtime: WorkerRuntime, conn, reply: _Generated, holder: str) -> tuple[bool, str | None]:  # noqa: ANN001
    """Store one reply and its event, once, inside the caller's write transaction.
    Returns (written, ended_by): not written if another run finished first or holds the
    job. When deltas were sent, a last delta first completes them, so the deltas alone
    always add up to the stored reply. In the same transaction: the claim on the job and
    its end, the feedback on the trainee message the reply answers (after the reply's
    event), and the session's completion when its script is finished or its time is up."""
    prepared, batcher, usage = reply.prepared, reply.batcher, reply.usage
    session_id, message_id, scenario = prepared.request.session_id, prepared.message_id, prepared.scenario
    if message_rows.select_reply(conn, message_id) is not None:
        job_rows.finish_reply_job(conn, message_id, status="done")
        return False, None  # another run finished first; its reply stands
    if _hold(runtime, conn, message_id, holder) is None:
        log.info("reply dropped, another run holds the job message_id=%s", message_id)
        return False, None
    mask = _session_masker(runtime, conn, session_id, tuple(scenario.masking_patterns))
    if batcher.next_seq > 0:
        delta = batcher.take_delta(mask, final=True)
        if delta is not None:
            _insert_delta(conn, session_id, message_id, delta)
        text = batcher.emitted
    else:
        text = mask(batcher.generated, reply.found)
    metadata = {
        "tokens": usage.completion_tokens,
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        "provider": runtime.provider.name,
        "model": usage.model,
        "reply_to": message_id,
    }
    stored = message_rows.insert_message(
        conn, session_id=session_id, role="assistant", content=text, metadata=metadata, reply_to=message_id
    )
    llm_accounting.record_reply(conn, session_id=session_id, provider=runtime.provider.name, usage=usage)
    event_rows.insert_event(
        conn,
        session_id=session_id,
        type="assistant_message",
        payload={
            "content": text,
            "timestamp": stored["timestamp"],
            "message_id": stored["id"],
            "metadata": {"tokens": usage.completion_tokens, "reply_to": message_id},
        },
        message_id=message_id,
    )
    if reply.feedback is not None:
        training_loop.store_reply_feedback(
            conn, session_id=session_id, message=prepared.trainee_message, feedback=reply.feedback
        )
    ended_by = training_loop.complete_if_due(conn, scenario, session_id)
    job_rows.finish_reply_job(conn, message_id, status="done")
    return True, ended_by


def _handle_llm_error(runtime: WorkerRuntime, job: dict[str, Any], error: LLMError, holder: str) -> None:
    settings = runtime.settings
    message_id, session_id = job["message_id"], job["session_id"]
    if error.code == "lease_lost":
        return
    with runtime.writing() as conn:
        llm_accounting.record_failure(conn, provider=runtime.provider.name, code=error.code)
        job = _hold(runtime, conn, message_id, holder)  # counts this run as an attempt
        if job is None:
            return  # another run has the job, or it is finished
        retry = error.retryable and job["attempts"] < settings.reply_max_attempts
        if retry:
            job_rows.requeue_reply_job(conn, message_id, now=time.time(), last_error=error.code)
        else:
            job_rows.finish_reply_job(conn, message_id, status="failed", last_error=error.code)
            write_error_event(
                conn,
                session_id=session_id,
                code=error.code,
                content=f"The customer could not answer ({error.message}). Send a retry frame to try again.",
                message_id=message_id,
            )
    if retry:
        delay = error.retry_after_seconds or settings.reply_retry_base_delay_seconds * 2 ** (job["attempts"] - 1)
        delay *= random.uniform(1.0, 1.25)
        generate_reply.schedule(args=(message_id,), delay=delay)
        log.warning(
            "reply attempt failed, retrying session_id=%s message_id=%s code=%s attempt=%s delay_s=%.2f",
            session_id, message_id, error.code, job["attempts"], delay,
        )
    else:
        runtime.ring_web()
        log.error("reply failed session_id=%s message_id=%s code=%s", session_id, message_id, error.code)
