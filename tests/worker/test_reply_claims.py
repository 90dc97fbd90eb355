"""A reply job's claim while its reply streams (worker/streaming.py): a delta within half a
claim's length of the last claim writes no claim of its own, so a run whose model stalls
past its claim must claim again with its next delta, and stop there when another run has
taken the job over."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import messages as message_rows
from shared.settings import Settings
from tests.conftest import start_on_a_migrated_copy
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.support.replies import queued_message
from tests.support.stack import REPO_ROOT
from worker.runtime import WorkerRuntime
from worker.tasks import run_reply_job

CLAIM_SECONDS = 0.6
REPLY = "Thanks for looking into it, I have been locked out since this morning and need it today."


def _runtime(tmp_path: Path, migrated_sqlite: Path, base_url: str) -> WorkerRuntime:
    settings = Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        llm_provider="openai",
        llm_base_url=base_url,
        llm_api_key="sk-test-not-a-real-key",
        reply_claim_seconds=CLAIM_SECONDS,
        stream_batch_ms=10,
    )
    settings.data_dir.mkdir(parents=True)
    start_on_a_migrated_copy(settings, migrated_sqlite)
    return WorkerRuntime(settings)


def _deltas(runtime: WorkerRuntime, session_id: int) -> int:
    with runtime.engine.connect() as conn:
        return sum(
            1 for e in event_rows.select_session_events_after(conn, session_id, 0) if e.type == "assistant_delta"
        )


def test_a_run_whose_model_stalls_past_its_claim_stops_at_its_next_delta_once_taken_over(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    with FakeOpenAIServer(reply=REPLY, chunk_chars=8) as server:
        # Three chunks go out as deltas, then the model stalls well past the claim.
        server.queue(chunk_delay_seconds=0.02, stall_after_chunks=3, stall_seconds=3 * CLAIM_SECONDS)
        runtime = _runtime(tmp_path, migrated_sqlite, server.base_url)
        session_id, message_id = queued_message(runtime, "Sorry to hear that, let me check your account.")
        run = threading.Thread(target=run_reply_job, args=(runtime, message_id))
        run.start()
        deadline = time.monotonic() + 10
        while _deltas(runtime, session_id) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _deltas(runtime, session_id) >= 1
        time.sleep(CLAIM_SECONDS * 1.5)  # the run's claim has run out during the stall
        with runtime.write_engine.begin() as conn:
            taken = job_rows.claim_reply_job(
                conn, message_id, claimant="another-run", now=time.time(), claim_seconds=60
            )
        assert taken is not None
        sent_before_the_takeover = _deltas(runtime, session_id)
        run.join(15)
        assert not run.is_alive()
    assert _deltas(runtime, session_id) == sent_before_the_takeover  # nothing written after it
    with runtime.engine.connect() as conn:
        assert message_rows.select_reply(conn, message_id) is None
        job = job_rows.select_reply_job(conn, message_id)
    assert (job["status"], job["worker_id"]) == ("working", "another-run")


def test_a_run_streaming_steadily_delivers_the_whole_reply_once(tmp_path: Path, migrated_sqlite: Path) -> None:
    """Many deltas over more than a claim's length, most of them with no claim of their
    own: the reply is stored whole, once, by the one run that took the job."""
    with FakeOpenAIServer(reply=REPLY, chunk_chars=4) as server:
        server.queue(chunk_delay_seconds=CLAIM_SECONDS * 2 / (len(REPLY) / 4))
        runtime = _runtime(tmp_path, migrated_sqlite, server.base_url)
        session_id, message_id = queued_message(runtime, "Sorry to hear that, let me check your account.")
        run_reply_job(runtime, message_id)
    with runtime.engine.connect() as conn:
        reply = message_rows.select_reply(conn, message_id)
        job = job_rows.select_reply_job(conn, message_id)
        deltas = [e for e in event_rows.select_session_events_after(conn, session_id, 0) if e.type == "assistant_delta"]
    assert reply is not None and reply["content"] == REPLY
    assert job["status"] == "done" and job["attempts"] == 1
    assert len(deltas) > 3
