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
import time
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


@huey.task()
def generate_reply(message_id: int) -> None:
    """Write the customer's reply to one trainee message (idempotent)."""
    run_reply_job(get_runtime(), message_id)


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted(signal, task, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
    """A SIGTERM stopped the consumer mid-job: put the job back on the queue at once
    instead of waiting for its lease to run out."""
    if not isinstance(task, generate_reply.task_class):
        return
    huey.storage.stop_dequeuing()
    message_id = task.args[0]
    runtime = get_runtime()
    with runtime.writing() as conn:
        requeued = job_rows.requeue_reply_job(conn, message_id, now=time.time(), last_error="interrupted")
    if requeued:
        generate_reply(message_id)
        log.info("reply job requeued after interruption message_id=%s", message_id)


def run_reply_job(runtime: WorkerRuntime, message_id: int) -> None:
    """One run of a reply job.

    The job is read, not claimed, at the start: a reply generated within one batch
    interval is written in a single transaction that claims the job, stores the reply and
    finishes the job together, so a fast reply takes the write lock once. A slower one is
    claimed by its first delta or its `typing` event (worker/typing.py), which is also
    when a lease matters: the sweeps only take jobs queued for half a minute or whose lease
    ran out. Two runs of one job (a duplicate queue entry) can both generate, but only
    the holder of the claim writes anything, and a reply is stored once (messages.reply_to
    is unique)."""
    settings = runtime.settings
    now = time.time()
    holder = f"{runtime.worker_id}:{secrets.token_hex(3)}"
    with runtime.reading() as conn:
        job = job_rows.select_reply_job(conn, message_id)
        if job is None or not job_rows.may_take(job, now):
            return
        session_id = job["session_id"]
        if now <= job["expires_at"]:
            session = session_rows.select_session(conn, session_id)
            history = message_rows.select_recent_history(
                conn, session_id, message_id, limit=settings.llm_history_messages
            )
            assistant_turns = message_rows.count_assistant_messages_before(conn, session_id, message_id)
            emitted, next_seq = event_rows.select_streamed_deltas(conn, session_id, message_id)
            trainee_message = message_rows.select_message(conn, message_id)
    if now > job["expires_at"]:
        _expire(runtime, message_id, holder)
        return

    scenario = runtime.scenario_for(session["scenario_id"])
    request = ReplyRequest(
        scenario=scenario,
        history=tuple(ChatTurn(role=role, content=content) for role, content in history),
        session_id=session_id,
        reply_to=message_id,
        assistant_turns=assistant_turns,
    )
    started = time.monotonic()
    try:
        llm_accounting.check_daily_budget(runtime.engine, user_id=session["user_id"], budget=settings.llm_daily_token_budget_per_user)
        batcher, usage = _stream_reply(runtime, request, session_id, message_id, emitted, next_seq, holder)
    except LLMError as error:
        _handle_llm_error(runtime, job, error, holder)
        return
    except Exception as error:  # a bug must not lose the reply: retry, then tell the trainee
        log.exception("reply job crashed session_id=%s message_id=%s", session_id, message_id)
        _handle_llm_error(runtime, job, LLMError("internal_error", type(error).__name__, retryable=True), holder)
        return
    elapsed_ms = (time.monotonic() - started) * 1000
    # Scored before the reply's transaction, so the write lock is not held for it.
    feedback = (
        training_loop.score_trainee_message(scenario, trainee_message["content"], assistant_turns - 1)
        if scenario.per_reply_feedback and trainee_message is not None and trainee_message["role"] == "user"
        else None
    )
    # Like scoring, the search for personal data in a reply that goes out whole runs
    # before the transaction; only the placeholders are put in with the lock held.
    found = runtime.masking.find(batcher.generated, tuple(scenario.masking_patterns)) if batcher.next_seq == 0 else None
    if not _write_reply(runtime, session_id, message_id, batcher, usage, scenario, holder, trainee_message, feedback, found):
        return
    log.debug(
        "reply written session_id=%s message_id=%s tokens=%s llm_ms=%.1f",
        session_id,
        message_id,
        usage.completion_tokens,
        elapsed_ms,
    )


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


def _stream_reply(runtime, request, session_id, message_id, emitted, next_seq, holder):  # noqa: ANN001, ANN202
    """Run the provider, writing batched deltas; returns (unmasked text, usage, batcher)."""
    settings = runtime.settings
    patterns = tuple(request.scenario.masking_patterns)
    batcher = DeltaBatcher(
        batch_seconds=settings.stream_batch_ms / 1000,
        emitted=emitted,
        next_seq=next_seq,
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


def _write_reply(  # noqa: PLR0913
    runtime: WorkerRuntime, session_id: int, message_id: int, batcher: DeltaBatcher, usage, scenario, holder: str,  # noqa: ANN001
    trainee_message: dict[str, Any] | None, feedback, found: list | None,  # noqa: ANN001
) -> bool:
    """Store the reply and its event, once; False if this run may not (another run
    finished first or holds the job). When deltas were sent, a last delta first completes
    them, so the deltas alone always add up to the stored reply. In the same transaction:
    the claim on the job and its end, the feedback on the trainee message the reply
    answers (after the reply's event), and the session's completion when its script is
    finished or its time is up."""
    with runtime.writing() as conn:
        if message_rows.select_reply(conn, message_id) is not None:
            job_rows.finish_reply_job(conn, message_id, status="done")
            return False  # another run finished first; its reply stands
        if _hold(runtime, conn, message_id, holder) is None:
            log.info("reply dropped, another run holds the job message_id=%s", message_id)
            return False
        mask = _session_masker(runtime, conn, session_id, tuple(scenario.masking_patterns))
        if batcher.next_seq > 0:
            delta = batcher.take_delta(mask, final=True)
            if delta is not None:
                _insert_delta(conn, session_id, message_id, delta)
            text = batcher.emitted
        else:
            text = mask(batcher.generated, found)
        metadata = {
            "tokens": usage.completion_tokens,
            "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
            "provider": runtime.provider.name,
            "model": usage.model,
            "reply_to": message_id,
        }
        reply = message_rows.insert_message(
            conn, session_id=session_id, role="assistant", content=text, metadata=metadata, reply_to=message_id
        )
        llm_accounting.record_reply(conn, session_id=session_id, provider=runtime.provider.name, usage=usage)
        event_rows.insert_event(
            conn,
            session_id=session_id,
            type="assistant_message",
            payload={
                "content": text,
                "timestamp": reply["timestamp"],
                "message_id": reply["id"],
                "metadata": {"tokens": usage.completion_tokens, "reply_to": message_id},
            },
            message_id=message_id,
        )
        if feedback is not None:
            training_loop.store_reply_feedback(conn, session_id=session_id, message=trainee_message, feedback=feedback)
        ended_by = training_loop.complete_if_due(conn, scenario, session_id)
        job_rows.finish_reply_job(conn, message_id, status="done")
    runtime.ring_web()
    if ended_by is not None:
        evaluate_session(session_id)
        log.info("session completed session_id=%s ended_by=%s", session_id, ended_by)
    return True


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
