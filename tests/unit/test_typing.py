"""The typing indicator (worker/typing.py): written only for a reply still being generated
after its delay, never after the reply, a delta or a failure."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.conversation import accept_trainee_message, write_opening_line
from shared.db import events as event_rows
from shared.db import jobs as job_rows
from shared.db import sessions as session_rows
from shared.db.migrate import upgrade_to_head
from shared.db.scenario_rows import upsert_scenario
from shared.masking_policy import MaskingPolicy
from shared.settings import Settings
from tests.support.stack import REPO_ROOT
from worker.runtime import WorkerRuntime
from worker.typing import TypingIndicator, write_typing_if_pending

DELAY = 0.05


@pytest.fixture(name="runtime")
def _runtime(tmp_path: Path) -> WorkerRuntime:
    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")
    settings.data_dir.mkdir(parents=True)
    upgrade_to_head(settings.resolved_database_url)
    return WorkerRuntime(settings)


def _claimed_message(runtime: WorkerRuntime) -> tuple[int, int]:
    """A session with one trainee message whose reply job a worker has claimed."""
    with runtime.write_engine.begin() as conn:
        scenario_id = upsert_scenario(conn, slug="customer-service", title="t", config={}, file_path="x")
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        write_opening_line(conn, session_id=session_id, content="I can't log in.")
        accepted = accept_trainee_message(
            conn, session_id=session_id, content="Sorry to hear that.", client_message_id=None,
            masking=MaskingPolicy(enabled=False, secret=b"k"), reply_expiry_seconds=60,
        )
        job_rows.claim_reply_job(conn, accepted.message_id, worker_id=runtime.worker_id, now=time.time(), lease_seconds=10)
    return session_id, accepted.message_id


def _typing_events(runtime: WorkerRuntime, session_id: int) -> list:
    with runtime.engine.connect() as conn:
        return [e for e in event_rows.select_session_events_after(conn, session_id, 0) if e.type == "typing"]


def _indicator(runtime: WorkerRuntime, rings: list) -> TypingIndicator:
    return TypingIndicator(runtime.write_engine, lambda: rings.append(1), DELAY)


def test_a_slow_reply_gets_typing_after_the_delay(runtime: WorkerRuntime) -> None:
    session_id, message_id = _claimed_message(runtime)
    rings: list = []
    indicator = _indicator(runtime, rings)
    started = time.monotonic()
    indicator.started(session_id, message_id)
    deadline = started + 5
    while not _typing_events(runtime, session_id) and time.monotonic() < deadline:
        time.sleep(0.01)
    (typing,) = _typing_events(runtime, session_id)
    assert time.monotonic() - started >= DELAY
    assert typing.frame_text().endswith(f'"reply_to":{message_id}}}')
    assert rings == [1]


def test_a_reply_settled_within_the_delay_gets_no_typing(runtime: WorkerRuntime) -> None:
    session_id, message_id = _claimed_message(runtime)
    rings: list = []
    indicator = _indicator(runtime, rings)
    indicator.settle(indicator.started(session_id, message_id))
    # A second, slow reply in the same session proves the thread ran past the first's due time.
    _, other_id = _claimed_message(runtime)
    indicator.started(session_id, other_id)
    time.sleep(DELAY * 6)
    typing = _typing_events(runtime, session_id)
    assert [e.frame_text().endswith(f'"reply_to":{other_id}}}') for e in typing] == [True]


@pytest.mark.parametrize("state", ["done", "failed", "queued", "delta sent"])
def test_no_typing_once_the_reply_moved_on(runtime: WorkerRuntime, state: str) -> None:
    session_id, message_id = _claimed_message(runtime)
    with runtime.write_engine.begin() as conn:
        if state == "delta sent":
            event_rows.insert_event(
                conn, session_id=session_id, type="assistant_delta",
                payload={"reply_to": message_id, "seq": 0, "content": "Fine"}, message_id=message_id,
            )
        elif state == "queued":
            job_rows.requeue_reply_job(conn, message_id, now=time.time(), last_error="interrupted")
        else:
            job_rows.finish_reply_job(conn, message_id, status=state)
        assert write_typing_if_pending(conn, session_id, message_id) is False
    assert _typing_events(runtime, session_id) == []
