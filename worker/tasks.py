"""The reply job: step two of a message's path.

The web process stored the trainee's message and a reply_jobs row, then enqueued
`generate_reply(message_id)`. Here a worker reads that row (a duplicate or stale queue
entry does nothing), has the model stream the customer's reply into `assistant_delta`
events (worker/streaming.py: the model's slot, `typing`, the deltas), scores the
trainee's line, and writes the reply, keyed by the message it answers, with its
`assistant_message` event, in one transaction that claims the job and ends it. The
database is the source of truth; the queue entry only prompts the work, so running a
job twice is harmless.

Each run is one greenlet of the consumer (a thread in tests): while it waits on the model
it holds no thread, so one worker process carries hundreds of replies at once.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any

from huey.signals import SIGNAL_INTERRUPTED

from shared.conversation.frames import SentText
from shared.conversation.writes import (
    complete_if_due,
    session_masker,
    store_reply_feedback,
    write_customer_message,
    write_error_event,
    write_reply_delta,
)
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.llm import ChatTurn, LLMError, ReplyRequest
from shared.llm import accounting as llm_accounting
from shared.training.scoring import reply_feedback
from worker.evaluation import evaluate_session
from worker.huey_app import huey
from worker.model_judging import start_model_judging
from worker.runtime import WorkerRuntime, get_runtime
from worker.streaming import ModelTiming, StreamedReply, stream_reply

log = logging.getLogger("chattrain.worker")


# The message id each running generate_reply task is answering, by task id, so an
# interruption can put it back.
_running: dict[str, int] = {}


@huey.task(context=True)
def generate_reply(message_id: int, task=None) -> None:  # noqa: ANN001
    """Write the customer's reply to one trainee message (idempotent)."""
    task_id = task.id if task is not None else None
    _running[task_id] = message_id
    try:
        run_reply_job(get_runtime(), message_id)
    finally:
        _running.pop(task_id, None)


def waiting_reply_ids() -> set[int]:
    """The messages whose reply job has an entry waiting in the queue or in its schedule
    (a retry after a delay): the sweep leaves those jobs alone (worker/maintenance.py)."""
    storage = huey.storage
    waiting = set()
    for data in (*storage.enqueued_items(), *storage.scheduled_items()):
        try:
            task = huey.deserialize_task(data)
        except Exception:  # not a job of ours: the worker refuses it when it comes
            continue
        if isinstance(task, generate_reply.task_class) and task.args:
            waiting.add(task.args[0])
    return waiting


@huey.signal(SIGNAL_INTERRUPTED)
def requeue_interrupted(signal, task, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
    """A SIGTERM stopped the consumer mid-job: put the job back on the queue at once
    instead of waiting for its claim to run out."""
    if not isinstance(task, generate_reply.task_class):
        return
    huey.storage.stop_dequeuing()
    runtime = get_runtime()
    message_id = _running.pop(task.id, task.args[0])
    requeued = runtime.write(
        lambda conn: job_rows.requeue_reply_job(conn, message_id, now=time.time(), last_error="interrupted")
    )
    if requeued:
        generate_reply(message_id)
        log.info("reply job requeued after interruption message_id=%s", message_id)


@dataclass
class _ReplyInputs:
    """What one reply job read before generating: its job row and the LLM's request."""

    message_id: int
    job: dict[str, Any]
    scenario: Any
    request: ReplyRequest
    user_id: str
    sent: SentText  # what an earlier run of the job sent as deltas
    trainee_message: dict[str, Any] | None


@dataclass
class _Generated:
    """A reply generated and scored, ready for its write transaction."""

    inputs: _ReplyInputs
    streamed: StreamedReply
    feedback: Any
    found: list  # the personal data in the reply (MaskingPolicy.find), masked in its transaction
    timing: ModelTiming


def run_reply_job(runtime: WorkerRuntime, message_id: int) -> None:
    """One run of a reply job.

    The job is read, not claimed, at the start: the run claims it with its `typing`
    event or its first delta (worker/streaming.py), and a reply generated within one
    batch interval is written in a single transaction that claims the job, stores the
    reply and finishes the job together. Two runs of one job (a duplicate queue entry) can both
    generate, but only the claimant of the claim writes anything, and a reply is stored
    once (messages.reply_to is unique)."""
    claimant = f"{runtime.worker_id}:{secrets.token_hex(3)}"
    with runtime.reading() as conn:
        job, now = job_rows.select_reply_job_and_now(conn, message_id, time.time())
        if job is None or not job_rows.may_take(job, now):
            return
        expired = now > job["expires_at"]
        inputs = None
        if not expired:
            try:
                inputs = _read_inputs(runtime, conn, job)
            except Exception as error:  # retried like a failed call, then the trainee is told
                runtime.note_failure(error, "reading a reply job failed message_id=%s", message_id)
    if expired:
        _expire(runtime, message_id, job["session_id"], claimant)
    elif inputs is None:
        _handle_llm_error(
            runtime, job, LLMError("internal_error", "the job could not be read", retryable=True), claimant
        )
    else:
        generated = _generate(runtime, inputs, claimant)
        if generated is not None:
            _write_reply(runtime, generated, claimant)


def _read_inputs(runtime: WorkerRuntime, conn, job: dict[str, Any]) -> _ReplyInputs:  # noqa: ANN001
    message_id, session_id = job["message_id"], job["session_id"]
    session = session_rows.select_session(conn, session_id)
    history = message_rows.select_recent_history(
        conn, session_id, message_id, limit=runtime.settings.llm_history_messages
    )
    assistant_turns = message_rows.count_assistant_messages_before(conn, session_id, message_id)
    scenario = runtime.scenario_for(session["scenario_id"])
    request = ReplyRequest(
        scenario=scenario,
        history=tuple(map(ChatTurn._make, history)),
        session_id=session_id,
        reply_to=message_id,
        assistant_turns=assistant_turns,
    )
    return _ReplyInputs(
        message_id=message_id,
        job=job,
        scenario=scenario,
        request=request,
        user_id=session["user_id"],
        sent=SentText(*event_rows.select_streamed_deltas(conn, session_id, message_id)),
        trainee_message=message_rows.select_message(conn, message_id),
    )


def _generate(runtime: WorkerRuntime, inputs: _ReplyInputs, claimant: str) -> _Generated | None:
    """Stream the reply (writing deltas when it is slow) and score the trainee's line;
    None when the provider failed (the job is retried or the trainee told)."""
    settings = runtime.settings
    session_id, message_id, scenario = inputs.request.session_id, inputs.message_id, inputs.scenario
    timing = ModelTiming()
    turn_index = inputs.request.assistant_turns - 1
    pending_verdict = None
    try:
        llm_accounting.check_daily_budget(
            runtime.engine, user_id=inputs.user_id, budget=settings.llm_daily_token_budget_per_user
        )
        # After the budget check: a trainee past the budget gets no judging call either.
        pending_verdict = start_model_judging(
            runtime, scenario, inputs.trainee_message, turn_index, user_id=inputs.user_id
        )
        streamed = stream_reply(runtime, inputs.request, sent=inputs.sent, claimant=claimant, timing=timing)
    except LLMError as error:
        _handle_llm_error(runtime, inputs.job, error, claimant)
        return None
    except Exception as error:  # a bug must not lose the reply: retry, then tell the trainee
        runtime.note_failure(error, "reply job crashed session_id=%s message_id=%s", session_id, message_id)
        _handle_llm_error(
            runtime, inputs.job, LLMError("internal_error", type(error).__name__, retryable=True), claimant
        )
        return None
    trainee_message = inputs.trainee_message
    verdict = pending_verdict.result() if pending_verdict is not None else None
    # Scored before the reply's transaction, so the write lock is not held for it.
    feedback = (
        reply_feedback(scenario, turn_index, trainee_message["content"], verdict)
        if scenario.per_reply_feedback and trainee_message is not None and trainee_message["role"] == "user"
        else None
    )
    # Like scoring, the search for personal data in the reply runs before the transaction;
    # only the placeholders are put in with the lock held.
    found = runtime.masking.find(streamed.generated, scenario.masking_rules)
    return _Generated(inputs, streamed, feedback, found, timing)


def _claim(runtime: WorkerRuntime, conn, message_id: int, claimant: str) -> dict[str, Any] | None:  # noqa: ANN001
    return job_rows.claim_reply_job(
        conn, message_id, claimant=claimant, now=time.time(), claim_seconds=runtime.settings.reply_claim_seconds
    )


def _expire(runtime: WorkerRuntime, message_id: int, session_id: int, claimant: str) -> None:
    """The job waited past its expiry: drop it and tell the trainee, once."""

    def expire(conn):  # noqa: ANN001, ANN202
        job = _claim(runtime, conn, message_id, claimant)
        if job is not None:
            job_rows.finish_reply_job(conn, message_id, status="expired", last_error="expired")
            write_error_event(
                conn,
                session_id=job["session_id"],
                code="reply_expired",
                content="The reply took too long and was dropped; send a retry frame to try again.",
                message_id=message_id,
            )
        return job

    job = runtime.write(expire, lock_sessions=(session_id,))
    if job is None:
        return
    runtime.wake_web()
    log.info("reply job expired session_id=%s message_id=%s", job["session_id"], message_id)


def _write_reply(runtime: WorkerRuntime, reply: _Generated, claimant: str) -> None:
    """Store a generated reply in one write transaction. A reply that cannot be written
    (a bug in its write) is retried like a failed LLM call, then reported to the trainee."""
    inputs = reply.inputs
    session_id, message_id = inputs.request.session_id, inputs.message_id
    try:
        written, ended_by = runtime.write(
            lambda conn: _store_reply(runtime, conn, reply, claimant), lock_sessions=(session_id,)
        )
    except Exception as error:
        runtime.note_failure(error, "writing a reply failed session_id=%s message_id=%s", session_id, message_id)
        _handle_llm_error(
            runtime, inputs.job, LLMError("internal_error", type(error).__name__, retryable=True), claimant
        )
        return
    if written:
        runtime.wake_web()
        log.debug(
            "reply written session_id=%s message_id=%s tokens=%s llm_s=%.2f",
            session_id,
            message_id,
            reply.streamed.usage.completion_tokens,
            reply.timing.last_chunk_at - reply.timing.requested_at,
        )
    if ended_by is not None:
        evaluate_session(session_id)
        log.info("session completed session_id=%s ended_by=%s", session_id, ended_by)


def _store_reply(runtime: WorkerRuntime, conn, reply: _Generated, claimant: str) -> tuple[bool, str | None]:  # noqa: ANN001
    """Store one reply and its event, once, inside the caller's write transaction.
    Returns (written, ended_by): not written if another run finished first or has claimed the
    job. When deltas were sent, a last delta first completes them, so the deltas alone
    always add up to the stored reply. In the same transaction: the claim on the job and
    its end, the feedback on the trainee message the reply answers (after the reply's
    event), and the session's completion when its script is finished or its time is up."""
    inputs, streamed, usage = reply.inputs, reply.streamed, reply.streamed.usage
    session_id, message_id, scenario = inputs.request.session_id, inputs.message_id, inputs.scenario
    if message_rows.select_reply(conn, message_id) is not None:
        job_rows.finish_reply_job(conn, message_id, status="done")
        return False, None  # another run finished first; its reply stands
    if _claim(runtime, conn, message_id, claimant) is None:
        log.info("reply dropped, another run has claimed the job message_id=%s", message_id)
        return False, None
    mask = session_masker(conn, runtime.masking, session_id, scenario.masking_rules)
    if streamed.sent.next_seq > 0:
        sent = write_reply_delta(
            conn,
            session_id=session_id,
            message_id=message_id,
            sent=streamed.sent,
            text=mask(streamed.generated, reply.found),
        )
        # What the deltas add up to: an earlier run may have sent more than this one made.
        text = (sent or streamed.sent).text
    else:
        text = mask(streamed.generated, reply.found)
    metadata = {
        "tokens": usage.completion_tokens,
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        "provider": runtime.provider.name,
        "model": usage.model,
        "reply_to": message_id,
    }
    write_customer_message(
        conn,
        session_id=session_id,
        content=text,
        reply_to=message_id,
        metadata=metadata,
        tokens=usage.completion_tokens,
    )
    llm_accounting.record_reply(conn, session_id=session_id, provider=runtime.provider.name, usage=usage)

    if reply.feedback is not None:
        store_reply_feedback(conn, session_id=session_id, message=inputs.trainee_message, feedback=reply.feedback)
    ended_by = complete_if_due(conn, scenario, session_id)
    timing = reply.timing
    job_rows.finish_answered_reply_job(
        conn,
        message_id,
        requested_at=timing.requested_at,
        first_chunk_at=timing.first_chunk_at,
        last_chunk_at=timing.last_chunk_at,
    )
    return True, ended_by


def _handle_llm_error(runtime: WorkerRuntime, job: dict[str, Any], error: LLMError, claimant: str) -> None:
    settings = runtime.settings
    message_id, session_id = job["message_id"], job["session_id"]
    if error.code == "claim_lost":
        return

    def record(conn):  # noqa: ANN001, ANN202
        llm_accounting.record_failure(conn, provider=runtime.provider.name, code=error.code)
        job = _claim(runtime, conn, message_id, claimant)  # counts this run as an attempt
        if job is None:
            return None, False  # another run has the job, or it is finished
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
        return job, retry

    job, retry = runtime.write(record, lock_sessions=(session_id,))
    if job is None:
        return
    if retry:
        delay = error.retry_after_seconds or settings.reply_retry_base_delay_seconds * 2 ** (job["attempts"] - 1)
        delay *= random.uniform(1.0, 1.25)
        generate_reply.schedule(args=(message_id,), delay=delay)
        log.warning(
            "reply attempt failed, retrying session_id=%s message_id=%s code=%s attempt=%s delay_s=%.2f",
            session_id,
            message_id,
            error.code,
            job["attempts"],
            delay,
        )
    else:
        runtime.wake_web()
        log.error("reply failed session_id=%s message_id=%s code=%s", session_id, message_id, error.code)
