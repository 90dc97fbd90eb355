"""End to end, the training loop through the real web and worker processes: feedback
after every reply, the report when the trainee ends the session, and the two automatic
endings (the script runs out, the clock runs out)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from shared.db.engine import create_sync_engine
from shared.db.schema import sessions as sessions_table
from shared.lib.clock import utc_now
from tests.support.client import ChatClient, create_session
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

# One good answer to each of customer-service's six scripted customer lines. No personal
# data, so the stored (masked) text is exactly what was sent.
GOOD_LINES = [
    "I'm so sorry about this, I understand how frustrating it is. Let me help you with your account and the charge.",
    "Thank you. I have verified the account, and I will send a password reset link to your email now.",
    "Please check your spam folder; the reset email can take a few minutes to arrive.",
    "I can see the duplicate charge. I will refund it today, and you will see it within 5 to 10 business days.",
    "I understand. A payment retry during the renewal caused it, and I have fixed it to prevent a repeat at the next renewal.",
    "I will email you a confirmation with a reference number for your bank. Is there anything else I can help with?",
]


def _get(stack: Stack, path: str) -> httpx.Response:
    return httpx.get(f"{stack.base_url}{path}", headers={"Authorization": f"Bearer {stack.token}"}, timeout=10)


async def _open(stack: Stack, scenario: str = "customer-service") -> tuple[dict, ChatClient]:
    session = await create_session(stack.base_url, scenario, token=stack.token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=stack.token)
    await chat.send("session_start")
    await chat.recv_until("session_start")
    await chat.recv_until("assistant_message")  # the opening line
    return session, chat


def _quotes(entries: list[dict]) -> list[str]:
    return [evidence["quote"] for entry in entries for evidence in entry["evidence"]]


async def test_feedback_follows_each_reply_and_end_session_brings_the_stored_report(stack):
    session, chat = await _open(stack)
    try:
        for line in GOOD_LINES[:3]:
            ack, reply = await chat.say(line)
            feedback = await chat.recv_until("feedback", message_id=ack["message_id"])
            assert feedback["event_id"] > reply["event_id"]
            assert 0 <= feedback["score"] <= 100
            assert isinstance(feedback["matched"], list) and isinstance(feedback["missed"], list)
            assert feedback["matched"]  # every line answers its customer line's keywords
            assert isinstance(feedback["suggestions"], list)
        await chat.send("end_session")
        complete = await chat.recv_until("session_complete", timeout=15)
    finally:
        await chat.close()

    assert complete["session_id"] == session["id"]
    report = complete["summary"]
    assert report["ended_by"] == "trainee_ended"
    assert report["exchanges"] == 3
    assert 0 <= report["overall_score"] <= 100
    assert [c["name"] for c in report["criteria"]] == [
        "Empathy",
        "Ownership and diagnosis",
        "Clear next steps",
        "Professionalism",
    ]
    assert set(report["required_keywords"]) == {"met", "missed"}
    assert report["strengths"] and report["improvements"]
    quotes = _quotes(report["strengths"]) + _quotes(report["improvements"])
    assert quotes
    for quote in quotes:  # the trainee's own words, perhaps cut short
        assert any(quote.rstrip("…") in line for line in GOOD_LINES[:3]), quote

    stored = _get(stack, f"/api/sessions/{session['id']}/report")
    assert stored.status_code == 200
    assert stored.json() == report

    markdown = _get(stack, f"/api/sessions/{session['id']}/transcript?format=markdown")
    assert markdown.headers["content-type"].startswith("text/markdown")
    for line in GOOD_LINES[:3]:
        assert line in markdown.text
    assert markdown.text.count("*Feedback: ") == 3
    assert "## Report" in markdown.text

    listed = _get(stack, "/api/sessions?status=completed").json()
    assert [(s["id"], s["overall_score"]) for s in listed] == [(session["id"], report["overall_score"])]


async def test_answering_the_last_scripted_line_completes_the_session_by_script(stack):
    session, chat = await _open(stack)
    try:
        for line in GOOD_LINES:
            await chat.say(line)
        complete = await chat.recv_until("session_complete", timeout=15)
        assert complete["summary"]["ended_by"] == "script_complete"
        assert complete["summary"]["exchanges"] == len(GOOD_LINES)
        assert complete["summary"]["required_keywords"]["missed"] == []
        await chat.send("user_message", "Are you still there?")
        assert (await chat.recv_until("error"))["code"] == "session_completed"
    finally:
        await chat.close()
    state = _get(stack, f"/api/sessions/{session['id']}").json()
    assert state["status"] == "completed"


@pytest.fixture(name="fast_sweep_stack")
def _fast_sweep_stack(tmp_path: Path, backends):  # noqa: ANN001
    stack = Stack(data_dir=tmp_path / "data", extra_env={"CHATTRAIN_SWEEP_INTERVAL_SECONDS": "0.5"}, backends=backends)
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


async def test_a_session_whose_time_runs_out_unattended_is_completed_by_the_worker(fast_sweep_stack):
    stack = fast_sweep_stack
    session, chat = await _open(stack)
    try:
        await chat.say(GOOD_LINES[0])
        # Pretend the 20-minute session started 21 minutes ago; the worker's sweep ends it.
        engine = create_sync_engine(stack.database_url)
        started = (utc_now() - timedelta(minutes=21)).isoformat(timespec="milliseconds")
        with engine.begin() as conn:
            conn.execute(sessions_table.update().where(sessions_table.c.id == session["id"]).values(created_at=started))
        engine.dispose()
        complete = await chat.recv_until("session_complete", timeout=15)
    finally:
        await chat.close()
    assert complete["summary"]["ended_by"] == "time_up"
    assert complete["summary"]["exchanges"] == 1
    assert complete["summary"]["duration_seconds"] >= 21 * 60
    assert "completed 1 session(s) whose time was up" in stack.log_text("worker")
