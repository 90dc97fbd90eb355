"""The model call of a reply job (step two of a message's path, called from
worker/tasks.py): wait for one of the model's slots, stream the customer's reply from the
LLM provider, and write it as batched, masked `assistant_delta` events while it comes,
with `typing` first when nothing has gone out for one batch interval.

Each delta carries only new text. Every flush masks the whole text so far (PII split
across chunks is still found) and holds back the tail that could be the start of a value
not yet recognisable: the unfinished word, and the run of words before it that carry
digits, `@`, `+` or a capital letter (a card's first groups, a phone number's country
code, the house number and name of a street, a name after "my name is"). Masking only
recognises a value once it is whole, so without this the first groups of a card number
would go out before the value was masked. When the masked text no longer extends what
clients were sent (a value became recognisable only later, or a re-run after a crash
produced different text), the next delta carries `restart: true` and the full text so far.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.conversation.frames import SentText
from shared.conversation.writes import session_masker, write_reply_delta, write_typing
from shared.db import jobs as job_rows
from shared.llm import LLMError, ReplyRequest

if TYPE_CHECKING:
    from worker.runtime import WorkerRuntime


@dataclass
class ModelTiming:
    """When the model was asked for the reply and when its first and last chunks came
    (epoch seconds, stored with the job for the queue wait in /api/health)."""

    requested_at: float = 0.0
    first_chunk_at: float = 0.0
    last_chunk_at: float = 0.0


class StreamedReply(NamedTuple):
    """A reply the model has finished: its whole text, what clients were sent of it as
    deltas (the reply's transaction completes them, worker/tasks.py), and the usage."""

    generated: str
    sent: SentText
    usage: Any


def stream_reply(
    runtime: WorkerRuntime,
    request: ReplyRequest,
    *,
    sent: SentText,
    claimant: str,
    timing: ModelTiming,
) -> StreamedReply:
    """Run the provider, writing batched deltas. `sent` is what an earlier run of the job
    already sent. Waits for one of the provider's slots
    (CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS) first, with `typing` already scheduled, so a
    wait for a slot shows as typing."""
    session_id, message_id = request.session_id, request.reply_to
    batcher = DeltaBatcher(batch_seconds=runtime.settings.stream_batch_ms / 1000, sent=sent)
    claim = _RunClaim(claimant)
    # `typing` goes out only for a reply that has sent nothing for one to two batch
    # intervals: a reply that comes whole within one would make it flicker. The typing
    # write claims the job for this run too; it is cancelled (waiting out a write in
    # progress) before the run writes anything itself, so it never follows what it announces.
    typing = runtime.delayed_writes.schedule(
        functools.partial(
            write_typing,
            session_id=session_id,
            message_id=message_id,
            claimant=claimant,
            claim_seconds=runtime.settings.reply_claim_seconds,
        ),
        session_id=session_id,
    )
    try:
        with runtime.model_slots.held():
            timing.requested_at = time.time()
            stream = runtime.provider.stream_reply(request)
            for chunk in stream:
                timing.last_chunk_at = time.time()
                timing.first_chunk_at = timing.first_chunk_at or timing.last_chunk_at
                if batcher.add(chunk):
                    runtime.delayed_writes.cancel(typing)
                    _write_delta(runtime, request, batcher, claim)
    finally:
        runtime.delayed_writes.cancel(typing)
    if not batcher.generated.strip():
        raise LLMError("llm_empty_reply", "The model returned an empty reply.", retryable=True)
    return StreamedReply(batcher.generated, batcher.sent, stream.usage)


@dataclass
class _RunClaim:
    """This run's claim on its job, as its delta writes last renewed it.

    Another run can take the job only once the claim has run out (shared/db/jobs.py), and
    the worker's heartbeat extends it meanwhile. So a delta within half a claim's length
    of the transaction that last claimed, timed from before that transaction began, needs
    no claim of its own: the job cannot have been taken over. Claiming with every delta
    was a statement per delta, a large share of the worker's CPU on PostgreSQL
    (docs/performance.md, Design measurements)."""

    claimant: str
    fresh_until: float = 0.0  # time.monotonic(); before it, the claim cannot have run out

    def needs_renewal(self) -> bool:
        return time.monotonic() >= self.fresh_until


def _write_delta(runtime: WorkerRuntime, request: ReplyRequest, batcher: DeltaBatcher, claim: _RunClaim) -> None:
    """One delta as a write of its own (runtime.write commits it with the writes ready at
    the same moment), which also claims the job for this run when its claim is not fresh
    (the first delta always claims)."""
    session_id, message_id = request.session_id, request.reply_to
    sent, sendable = batcher.sent, batcher.sendable()
    # The search for personal data runs before the write, outside the group's turn (and on
    # PostgreSQL its session locks); only the placeholders are put in inside it.
    found = runtime.masking.find(sendable, request.scenario.masking_rules)
    began = time.monotonic()
    renew = claim.needs_renewal()

    def write(conn) -> SentText | None:  # noqa: ANN001
        mask = session_masker(conn, runtime.masking, session_id, request.scenario.masking_rules)
        now_sent = write_reply_delta(
            conn, session_id=session_id, message_id=message_id, sent=sent, text=mask(sendable, found)
        )
        if (
            now_sent is not None
            and renew
            and job_rows.claim_reply_job(
                conn,
                message_id,
                claimant=claim.claimant,
                now=time.time(),
                claim_seconds=runtime.settings.reply_claim_seconds,
            )
            is None
        ):
            raise LLMError("claim_lost", "Another worker took this reply over.", retryable=False)
        return now_sent

    now_sent = runtime.write(write, lock_sessions=(session_id,))
    batcher.flushed(now_sent)
    if now_sent is not None:
        if renew:
            claim.fresh_until = began + runtime.settings.reply_claim_seconds / 2
        runtime.wake_web()


class ModelSlots:
    """At most `limit` calls to the LLM provider at once in one worker process
    (CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS), so a deployment can keep within its model's
    rate limits. Counts the calls in progress and those waiting for a slot, which the
    heartbeat publishes for /api/health."""

    def __init__(self, limit: int):
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._counts = threading.Lock()
        self.in_use = 0
        self.waiting = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for a slot, hold it for the body, give it back."""
        self._count(waiting=1)
        try:
            self._slots.acquire()
        finally:
            self._count(waiting=-1)
        self._count(in_use=1)
        try:
            yield
        finally:
            self._count(in_use=-1)
            self._slots.release()

    def _count(self, *, waiting: int = 0, in_use: int = 0) -> None:
        with self._counts:
            self.waiting += waiting
            self.in_use += in_use


@dataclass
class DeltaBatcher:
    """Decides when to flush and which text may go out. Pure logic; the caller masks
    and writes (frames.assistant_delta_event says what the delta carries)."""

    batch_seconds: float
    sent: SentText = SentText()  # what clients have been sent (possibly by an earlier run)
    generated: str = ""
    _last_flush: float = field(default_factory=time.monotonic)

    def add(self, chunk: str) -> bool:
        """Record a chunk; True when a flush is due. A NUL is dropped, as from the
        trainee's messages: it shows nothing and PostgreSQL's text columns cannot hold it."""
        self.generated += chunk.replace("\x00", "")
        # Time alone decides: a reply generated faster than one batch interval goes out
        # whole as its assistant_message, with no deltas and no extra writes.
        return time.monotonic() - self._last_flush >= self.batch_seconds

    def sendable(self) -> str:
        """The text that may go out before the rest arrives (safe_prefix), to be masked."""
        return safe_prefix(self.generated)

    def flushed(self, sent: SentText | None) -> None:
        """A flush committed: `sent` is what clients have now, or None when there was
        nothing new (then the next chunk may flush at once: the interval counts from a
        delta sent)."""
        if sent is not None:
            self.sent = sent
            self._last_flush = time.monotonic()


_CONNECTORS = {"-", "(", ")", "/", ".", ",", ":", "ext", "ext.", "x", "#"}


def _could_start_a_value(word: str, *, first: bool = False) -> bool:
    stripped = word.strip(".,;:!?\"'")
    return (
        any(ch.isdigit() for ch in word)
        or "@" in word
        or word.startswith("+")
        or (stripped[:1].isupper() and not first)
        or stripped.lower() in _CONNECTORS
    )


def safe_prefix(text: str) -> str:
    """The part of `text` that can be sent before the rest arrives (see the module doc).

    The reply's first word is not held back for being capitalised (every reply starts
    with a capital): a name is only recognised after a cue, and nothing comes before it."""
    words = text.split(" ")
    keep = len(words) - 1  # the last word may be unfinished
    while keep > 0 and _could_start_a_value(words[keep - 1], first=keep == 1):
        keep -= 1
    return " ".join(words[:keep]) + " " if keep else ""
