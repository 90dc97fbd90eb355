"""Reports, transcripts, session lists, statistics and ending a session, on the real app
through Quart's test client. No worker runs here: where a test needs what the worker
writes (feedback, the report), it calls the same data function the worker does; the
end-to-end tests check the worker itself."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from shared.conversation.writes import store_reply_feedback, write_report
from shared.db.messages import select_message
from shared.db.schema import sessions as sessions_table
from shared.db.sessions import select_session
from shared.lib.clock import utc_now
from shared.training.scoring import reply_feedback
from tests.support.client import open_socket


async def _session(client, user, scenario: int | str = "customer-service") -> int:  # noqa: ANN001
    response = await client.post("/api/sessions", json={"scenario_id": scenario}, headers=user.headers)
    assert response.status_code == 201
    return (await response.get_json())["id"]


async def _recv_type(ws, type: str, timeout: float = 5.0) -> dict:  # noqa: ANN001
    while True:
        frame = json.loads(await asyncio.wait_for(ws.receive(), timeout))
        if frame["type"] == type:
            return frame


async def _send(ws, type: str, content: str = "", **metadata) -> None:  # noqa: ANN001, ANN003
    await ws.send(json.dumps({"type": type, "content": content, "metadata": metadata}))


async def _end(client, user, session_id: int) -> None:  # noqa: ANN001
    async with open_socket(client, f"/chat/{session_id}", user) as ws:
        await _send(ws, "end_session")
        await _send(ws, "ping")  # frames are handled in order: the pong means end_session was
        await _recv_type(ws, "pong")


async def _queue_depth(client, user) -> int:  # noqa: ANN001
    """The entries waiting in the queue, as /api/health reports them."""
    health = await (await client.get("/api/health", headers=user.headers)).get_json()
    return health["queue"]["depth"]


async def _write_report_as_the_worker_would(app, session_id: int) -> dict:  # noqa: ANN001
    session = await app.app.db.read(select_session, session_id)
    scenario = app.app.catalog.by_id[session["scenario_id"]]
    return await app.app.db.write(write_report, scenario, session)


async def test_end_session_completes_the_session_and_queues_its_evaluation(client, users, app):
    session_id = await _session(client, users.trainee)
    await _end(client, users.trainee, session_id)
    session = await app.app.db.read(select_session, session_id)
    assert session["status"] == "completed"
    assert session["completed_at"] is not None
    assert session["ended_by"] == "trainee_ended"
    assert await _queue_depth(client, users.trainee) == 1  # the evaluation job


async def test_a_completed_session_refuses_messages_retries_and_a_second_end(client, users, app):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _send(ws, "user_message", "Sorry about that, let me help.")
        ack = await _recv_type(ws, "message_ack")
        await _send(ws, "end_session")
        await _send(ws, "user_message", "One more thing.")
        assert (await _recv_type(ws, "error"))["code"] == "session_completed"
        await _send(ws, "retry", message_id=ack["message_id"])
        assert (await _recv_type(ws, "error"))["code"] == "session_completed"
        await _send(ws, "end_session")
        assert (await _recv_type(ws, "error"))["code"] == "session_completed"
    transcript = await (await client.get(f"/api/sessions/{session_id}", headers=users.trainee.headers)).get_json()
    assert [m["content"] for m in transcript["messages"] if m["role"] == "user"] == ["Sorry about that, let me help."]


async def _backdate(app, session_id: int, minutes: float) -> None:  # noqa: ANN001
    started = (utc_now() - timedelta(minutes=minutes)).isoformat(timespec="milliseconds")

    def backdate(conn) -> None:  # noqa: ANN001
        conn.execute(sessions_table.update().where(sessions_table.c.id == session_id).values(created_at=started))

    await app.app.db.write(backdate)


async def test_a_message_after_the_time_limit_completes_the_session_as_time_up(client, users, app):
    session_id = await _session(client, users.trainee)
    await _backdate(app, session_id, 21)  # the scenario lasts 20 minutes
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _send(ws, "user_message", "Hello, are you still there?")
        error = await _recv_type(ws, "error")
    assert error["code"] == "session_completed"
    assert "Time is up" in error["content"]
    session = await app.app.db.read(select_session, session_id)
    assert (session["status"], session["ended_by"]) == ("completed", "time_up")
    assert await _queue_depth(client, users.trainee) == 1  # the evaluation, and no reply job


async def test_end_session_after_the_time_limit_records_time_up(client, users, app):
    session_id = await _session(client, users.trainee)
    await _backdate(app, session_id, 21)
    await _end(client, users.trainee, session_id)
    session = await app.app.db.read(select_session, session_id)
    assert (session["status"], session["ended_by"]) == ("completed", "time_up")


async def test_report_is_404_report_not_ready_while_the_session_is_active(client, users):
    session_id = await _session(client, users.trainee)
    response = await client.get(f"/api/sessions/{session_id}/report", headers=users.trainee.headers)
    assert response.status_code == 404
    body = await response.get_json()
    assert body["code"] == "report_not_ready"
    assert "still active" in body["detail"]


async def test_report_is_404_until_written_then_served_as_stored(client, users, app):
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _send(ws, "user_message", "I'm so sorry, I understand. Let me help with the account and the charge.")
        await _recv_type(ws, "message_ack")
    await _end(client, users.trainee, session_id)
    pending = await client.get(f"/api/sessions/{session_id}/report", headers=users.trainee.headers)
    assert pending.status_code == 404
    assert "being written" in (await pending.get_json())["detail"]

    stored = await _write_report_as_the_worker_would(app, session_id)
    assert await _write_report_as_the_worker_would(app, session_id) is None  # once only
    response = await client.get(f"/api/sessions/{session_id}/report", headers=users.trainee.headers)
    assert response.status_code == 200
    report = await response.get_json()
    assert report == stored
    assert report["ended_by"] == "trainee_ended" and report["exchanges"] == 1
    assert 0 <= report["overall_score"] <= 100


async def test_report_of_someone_elses_session_is_404(client, users):
    session_id = await _session(client, users.trainee)
    response = await client.get(f"/api/sessions/{session_id}/report", headers=users.other.headers)
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "session_not_found"


async def _session_with_feedback(client, users, app) -> tuple[int, int]:  # noqa: ANN001
    session_id = await _session(client, users.trainee)
    async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
        await _send(ws, "user_message", "I'm sorry about the *charge*, let me help with your account.")
        message_id = (await _recv_type(ws, "message_ack"))["message_id"]
    scenario = app.app.catalog.get("customer-service")[1]
    await app.app.db.write(_store_feedback_as_the_worker_would, scenario, session_id, message_id)
    return session_id, message_id


def _store_feedback_as_the_worker_would(conn, scenario, session_id: int, message_id: int) -> None:  # noqa: ANN001
    """The feedback on the trainee's first line, which answers the opening line."""
    message = select_message(conn, message_id)
    feedback = reply_feedback(scenario, 0, message["content"])
    store_reply_feedback(conn, session_id=session_id, message=message, feedback=feedback)


async def test_transcript_as_json_has_the_messages_with_their_feedback(client, users, app):
    session_id, message_id = await _session_with_feedback(client, users, app)
    response = await client.get(f"/api/sessions/{session_id}/transcript?format=json", headers=users.trainee.headers)
    assert response.status_code == 200
    transcript = await response.get_json()
    assert transcript["id"] == session_id and transcript["status"] == "active"
    assert transcript["scenario_title"] == "Customer Service Training"
    assert transcript["report"] is None
    opening, trainee = transcript["messages"]
    assert opening["role"] == "assistant" and opening["feedback"] is None
    assert trainee["id"] == message_id
    assert trainee["feedback"]["score"] == trainee["metadata"]["feedback"]["score"]
    assert "acknowledges the trouble" in trainee["feedback"]["matched"]


async def test_transcript_as_markdown_quotes_the_trainee_and_the_feedback(client, users, app):
    session_id, _ = await _session_with_feedback(client, users, app)
    response = await client.get(f"/api/sessions/{session_id}/transcript?format=markdown", headers=users.trainee.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/markdown")
    text = await response.get_data(as_text=True)
    assert text.startswith("# Transcript: Customer Service Training")
    assert "**Trainee**" in text and "**Customer**" in text
    assert r"I'm sorry about the \*charge\*, let me help with your account." in text
    assert "*Feedback: " in text and "- To improve (" in text


async def test_transcript_with_an_unknown_format_is_400_naming_the_field(client, users):
    session_id = await _session(client, users.trainee)
    response = await client.get(f"/api/sessions/{session_id}/transcript?format=pdf", headers=users.trainee.headers)
    assert response.status_code == 400
    assert (await response.get_json())["field"] == "format"


async def test_transcript_of_an_unknown_session_is_404(client, users):
    response = await client.get("/api/sessions/424242/transcript", headers=users.trainee.headers)
    assert response.status_code == 404


async def test_sessions_list_filters_by_user_scenario_and_status(client, users, app):
    first = await _session(client, users.trainee, "customer-service")
    second = await _session(client, users.other, "technical-support")
    third = await _session(client, users.trainee, "technical-support")
    await _end(client, users.trainee, first)
    await _write_report_as_the_worker_would(app, first)
    auth = users.trainer.headers

    async def ids(query: str) -> list[int]:
        response = await client.get(f"/api/sessions{query}", headers=auth)
        assert response.status_code == 200, await response.get_data(as_text=True)
        return [s["id"] for s in await response.get_json()]

    assert await ids("") == [third, second, first]
    assert await ids("?user_id=trainee-1") == [third, first]
    assert await ids("?scenario_id=technical-support") == [third, second]
    assert await ids("?scenario_id=1") == [first]
    assert await ids("?status=completed") == [first]
    assert await ids("?status=active&user_id=trainee-1") == [third]
    assert await ids("?limit=1&offset=1") == [second]
    assert await ids("?user_id=&scenario_id=&status=") == [third, second, first]

    listed = {s["id"]: s for s in await (await client.get("/api/sessions", headers=auth)).get_json()}
    assert listed[first]["ended_by"] == "trainee_ended"
    assert isinstance(listed[first]["overall_score"], int)
    assert listed[second]["overall_score"] is None


async def test_a_trainee_lists_only_their_own_sessions(client, users):
    mine = await _session(client, users.trainee)
    await _session(client, users.other)
    response = await client.get("/api/sessions?user_id=trainee-2", headers=users.trainee.headers)
    assert [s["id"] for s in await response.get_json()] == [mine]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [("?status=paused", 400, "status"), ("?limit=0", 400, "limit"), ("?scenario_id=nope", 404, "scenario_id")],
)
async def test_sessions_list_rejects_a_bad_filter_naming_the_field(client, users, query, status, field):
    response = await client.get(f"/api/sessions{query}", headers=users.trainer.headers)
    assert response.status_code == status
    assert (await response.get_json())["field"] == field


async def test_stats_of_a_scenario_without_sessions_are_empty(client, users):
    response = await client.get("/api/scenarios/technical-support/stats", headers=users.trainer.headers)
    assert response.status_code == 200
    assert await response.get_json() == {
        "scenario_id": 2,
        "scenario_slug": "technical-support",
        "sessions": 0,
        "completed": 0,
        "completion_rate": None,
        "mean_score": None,
        "median_score": None,
        "most_missed_keywords": [],
    }


async def test_stats_count_sessions_scores_and_missed_keywords(client, users, app):
    done = await _session(client, users.trainee)
    await _session(client, users.other)
    await _end(client, users.trainee, done)
    report = await _write_report_as_the_worker_would(app, done)
    stats = await (await client.get("/api/scenarios/1/stats", headers=users.trainer.headers)).get_json()
    assert (stats["sessions"], stats["completed"], stats["completion_rate"]) == (2, 1, 0.5)
    assert stats["mean_score"] == report["overall_score"]
    missed = {entry["keyword"]: entry["count"] for entry in stats["most_missed_keywords"]}
    assert set(report["required_keywords"]["missed"]) <= set(missed)
    assert set(missed.values()) == {1}


async def test_stats_are_for_trainers_only(client, users):
    response = await client.get("/api/scenarios/1/stats", headers=users.trainee.headers)
    assert response.status_code == 403
