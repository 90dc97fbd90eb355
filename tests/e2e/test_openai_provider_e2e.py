"""The real processes on the OpenAI-compatible provider, pointed at the fake server
(tests/fakes/fake_openai.py, in a thread of this test process on 127.0.0.1, reached by
the worker process over TCP like any LLM server).

Three settings switch a deployment from the mock to a real LLM; the rest of this file
checks what happens when that LLM is slow, refuses, hangs or talks nonsense, what it
costs per user and day, the daily budget, /api/health, what the model is sent, and the
optional LLM grading of the end-of-session report."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from shared.llm.prompt import build_system_prompt
from shared.scenarios import load_scenarios
from tests.fakes.fake_openai import FakeOpenAIServer, count_words
from tests.support.client import ChatClient, create_session
from tests.support.stack import REPO_ROOT, Stack, started_stack

pytestmark = pytest.mark.e2e

API_KEY = "sk-e2e-not-a-real-key"
REPLY = "Right. I have been locked out for an hour and charged twice, so sort it out quickly."
TRAINEE = "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in."
# Small timeouts keep the failure cases quick: one reply attempt is at most two requests
# of two seconds each, and the worker tries a reply twice before telling the trainee.
FAST_FAILURE_ENV = {
    "CHATTRAIN_LLM_REQUEST_TIMEOUT_SECONDS": "2",
    "CHATTRAIN_LLM_TOTAL_TIMEOUT_SECONDS": "5",
    "CHATTRAIN_LLM_MAX_RETRIES": "1",
    "CHATTRAIN_REPLY_MAX_ATTEMPTS": "2",
    "CHATTRAIN_REPLY_RETRY_BASE_DELAY_SECONDS": "0.1",
}


def switch_env(server: FakeOpenAIServer) -> dict[str, str]:
    """The only three settings a deployment needs to use an OpenAI-compatible server."""
    return {
        "CHATTRAIN_LLM_PROVIDER": "openai",
        "CHATTRAIN_LLM_BASE_URL": server.base_url,
        "CHATTRAIN_LLM_API_KEY": API_KEY,
    }


@pytest.fixture(name="fake_llm", scope="module")
def _fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=REPLY) as server:
        yield server


def reset_fake(server: FakeOpenAIServer, **control: object) -> None:
    """Forget the recorded requests and the queued misbehaviour (over HTTP, as any test
    process could)."""
    httpx.post(f"http://127.0.0.1:{server.port}/_control", json={"reset": True, **control})


@pytest.fixture(autouse=True)
def _fresh_fake(fake_llm: FakeOpenAIServer) -> None:
    """Each test starts with no recorded requests, no queued misbehaviour, the default reply."""
    reset_fake(fake_llm, reply=REPLY, chunk_chars=8)


@pytest.fixture(name="openai_stack", scope="module")
def _openai_stack(fake_llm: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("openai") / "data", extra_env={**switch_env(fake_llm), **FAST_FAILURE_ENV}
    )
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


def health(stack: Stack) -> dict:
    return stack.health()


def stored_message(stack: Stack, message_id: int) -> dict:
    with sqlite3.connect(stack.data_dir / "chattrain.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    return {**dict(row), "metadata": json.loads(row["metadata_json"] or "{}")}


def new_trainee(stack: Stack, user_id: str) -> str:
    return stack.create_user("trainee", user_id)


@asynccontextmanager
async def chat_session(stack: Stack, token: str):
    session = await create_session(stack.base_url, token=token)
    chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=token)
    try:
        yield session, chat
    finally:
        await chat.close()


async def expect_error(chat: ChatClient, message_id: int, timeout: float = 30) -> dict:
    """The error frame about `message_id`'s reply; fails on a reply instead."""
    while True:
        frame = await chat.recv(timeout)
        if frame["type"] == "error" and frame.get("reply_to") == message_id:
            return frame
        assert not (frame["type"] == "assistant_message" and frame["metadata"].get("reply_to") == message_id), frame


async def retry_and_get_reply(chat: ChatClient, message_id: int) -> dict:
    await chat.send("retry", message_id=message_id)
    return await chat.reply_to(message_id, timeout=30)


# --- switching ------------------------------------------------------------------------------


async def test_three_settings_switch_a_running_deployment_from_the_mock_to_the_llm_server(tmp_path: Path, fake_llm):
    stack = Stack(data_dir=tmp_path / "data")
    stack.start_all()
    try:
        token = new_trainee(stack, "switcher")
        async with chat_session(stack, token) as (_, chat):
            _, mocked = await chat.say(TRAINEE)
        assert health(stack)["llm"]["provider"] == "mock"
        assert stored_message(stack, mocked["message_id"])["metadata"]["provider"] == "mock"
        assert fake_llm.requests == []

        stack.stop_all()
        stack.extra_env.update(switch_env(fake_llm))  # nothing else changes: same code, same data
        stack.start_all()
        async with chat_session(stack, token) as (_, chat):
            _, real = await chat.say(TRAINEE)
        assert real["content"] == REPLY
        assert stored_message(stack, real["message_id"])["metadata"]["provider"] == "openai"
        assert health(stack)["llm"]["provider"] == "openai"
        assert health(stack)["llm"]["last_call_ok"] is True
        (request,) = fake_llm.requests
        assert request["path"] == "/v1/chat/completions"
        assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    finally:
        stack.stop_all()
    assert API_KEY not in stack.all_logs()


# --- replies and failures ---------------------------------------------------------------


async def test_a_streamed_reply_arrives_as_deltas_then_the_final_message_and_is_stored_with_its_usage(
    openai_stack, fake_llm
):
    fake_llm.queue(chunk_delay_seconds=0.06)  # a slow model: the worker sends several deltas
    token = new_trainee(openai_stack, "streamer")
    async with chat_session(openai_stack, token) as (_, chat):
        ack, reply = await chat.say(TRAINEE, timeout=30)
    deltas = [f for f in chat.received if f["type"] == "assistant_delta" and f["reply_to"] == ack["message_id"]]
    assert len(deltas) >= 2
    assert [d["seq"] for d in deltas] == list(range(len(deltas)))
    assert "".join(d["content"] for d in deltas) == reply["content"] == REPLY
    assert chat.received.index(deltas[-1]) < chat.received.index(reply)

    (request,) = fake_llm.requests
    stored = stored_message(openai_stack, reply["message_id"])
    assert stored["content"] == REPLY and stored["reply_to"] == ack["message_id"]
    assert stored["metadata"]["provider"] == "openai"
    assert stored["metadata"]["model"] == request["body"]["model"]
    assert stored["metadata"]["usage"] == {
        "prompt_tokens": count_words(request["body"]["messages"]),  # what the fake reports
        "completion_tokens": len(REPLY.split()),
    }


async def test_a_rate_limit_with_retry_after_is_waited_out_and_the_reply_still_arrives(openai_stack, fake_llm):
    fake_llm.queue(status=429, retry_after="1")
    token = new_trainee(openai_stack, "rate-limited")
    async with chat_session(openai_stack, token) as (_, chat):
        _, reply = await chat.say(TRAINEE, timeout=30)
    assert reply["content"] == REPLY
    assert not [f for f in chat.received if f["type"] == "error"]
    refused, answered = fake_llm.requests
    assert answered["received_at"] - refused["received_at"] >= 1.0  # Retry-After was honoured
    assert refused["body"] == answered["body"]


async def test_a_hanging_llm_times_out_retries_then_tells_the_trainee_and_a_retry_frame_recovers(
    openai_stack, fake_llm
):
    fake_llm.queue(count=20, hang_seconds=30)
    token = new_trainee(openai_stack, "hung")
    async with chat_session(openai_stack, token) as (_, chat):
        await chat.send("user_message", TRAINEE)
        ack = await chat.recv_until("message_ack")
        error = await expect_error(chat, ack["message_id"])
        assert error["code"] == "llm_timeout"
        assert "retry" in error["content"]
        # One request per worker attempt (the worker owns a reply's retries;
        # CHATTRAIN_REPLY_MAX_ATTEMPTS=2), then the trainee was told.
        assert len(fake_llm.requests) == 2
        status = health(openai_stack)
        assert status["status"] == "degraded"
        assert status["llm"]["last_call_ok"] is False and status["llm"]["last_error_code"] == "llm_timeout"

        reset_fake(fake_llm)  # the LLM is back
        reply = await retry_and_get_reply(chat, ack["message_id"])
    assert reply["content"] == REPLY
    assert health(openai_stack)["llm"]["last_call_ok"] is True


async def test_a_model_answering_500_costs_one_request_per_attempt_of_the_reply(openai_stack, fake_llm):
    """The provider does not retry a reply on its own: retries of the provider and of the
    worker used to multiply (up to 16 requests for one message)."""
    fake_llm.queue(count=20, status=500)
    token = new_trainee(openai_stack, "five-hundred")
    async with chat_session(openai_stack, token) as (_, chat):
        await chat.send("user_message", TRAINEE)
        ack = await chat.recv_until("message_ack")
        error = await expect_error(chat, ack["message_id"])
    assert error["code"] == "llm_unavailable"
    assert len(fake_llm.requests) == 2  # CHATTRAIN_REPLY_MAX_ATTEMPTS


async def test_malformed_llm_output_is_an_llm_malformed_response_error_at_once_and_health_follows(
    openai_stack, fake_llm
):
    token = new_trainee(openai_stack, "malformed")
    async with chat_session(openai_stack, token) as (_, chat):
        _, first = await chat.say(TRAINEE, timeout=30)
        ok = health(openai_stack)
        assert ok["status"] == "healthy" and ok["llm"]["last_call_ok"] is True

        fake_llm.queue(malformed=True)
        await chat.send("user_message", "Thank you. Can you confirm the email address on the account?")
        ack = await chat.recv_until("message_ack")
        error = await expect_error(chat, ack["message_id"])
        assert error["code"] == "llm_malformed_response"
        assert len(fake_llm.requests) == 2  # not retried: asking again would get the same answer
        failed = health(openai_stack)
        assert failed["status"] == "degraded"
        assert failed["llm"]["provider"] == "openai"
        assert failed["llm"]["last_call_ok"] is False
        assert failed["llm"]["last_error_code"] == "llm_malformed_response"
        assert failed["llm"]["last_failure_at"] > failed["llm"]["last_success_at"]

        reply = await retry_and_get_reply(chat, ack["message_id"])
    assert reply["content"] == REPLY
    recovered = health(openai_stack)
    assert recovered["status"] == "healthy" and recovered["llm"]["last_call_ok"] is True
    assert recovered["llm"]["last_success_at"] > recovered["llm"]["last_failure_at"]
    assert recovered["llm"]["last_error_code"] == "llm_malformed_response"  # the last failure's, kept
    assert stored_message(openai_stack, first["message_id"])["metadata"]["provider"] == "openai"


# --- usage and the daily budget ---------------------------------------------------------


async def test_usage_per_user_and_day_is_what_the_llm_reported_and_visible_to_trainers(openai_stack, fake_llm):
    token = new_trainee(openai_stack, "counted")
    trainer = openai_stack.create_user("trainer", "usage-trainer")
    async with chat_session(openai_stack, token) as (_, chat):
        await chat.say(TRAINEE, timeout=30)
        await chat.say("Thank you. Can you confirm the email address on the account?", timeout=30)
    prompt_tokens = sum(count_words(request["body"]["messages"]) for request in fake_llm.requests)
    completion_tokens = 2 * len(REPLY.split())

    as_trainer = httpx.get(
        f"{openai_stack.base_url}/api/usage",
        params={"user_id": "counted"},
        headers={"Authorization": f"Bearer {trainer}"},
    )
    assert as_trainer.status_code == 200, as_trainer.text
    usage = as_trainer.json()
    (day,) = usage["days"]
    assert day["user_id"] == "counted" and day["day"] == usage["last_day"]
    assert (day["prompt_tokens"], day["completion_tokens"], day["replies"]) == (prompt_tokens, completion_tokens, 2)
    assert usage["totals"]["total_tokens"] == prompt_tokens + completion_tokens
    assert usage["daily_token_budget_per_user"] is None

    everyone = httpx.get(f"{openai_stack.base_url}/api/usage", headers={"Authorization": f"Bearer {trainer}"}).json()
    assert "counted" in {row["user_id"] for row in everyone["days"]} and everyone["user_id"] is None
    own = httpx.get(
        f"{openai_stack.base_url}/api/usage",
        params={"user_id": "streamer"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert own["user_id"] == "counted" and [row["user_id"] for row in own["days"]] == ["counted"]


@pytest.fixture(name="budget_stack")
def _budget_stack(fake_llm: FakeOpenAIServer, tmp_path: Path) -> Iterator[Stack]:
    # About one reply's worth: the system prompt alone is several hundred words.
    env = {**switch_env(fake_llm), "CHATTRAIN_LLM_DAILY_TOKEN_BUDGET_PER_USER": "300"}
    stack = Stack(data_dir=tmp_path / "data", extra_env=env)
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


async def test_the_daily_budget_refuses_further_replies_until_the_next_utc_day(budget_stack, fake_llm):
    spender, other = new_trainee(budget_stack, "spender"), new_trainee(budget_stack, "other")
    async with chat_session(budget_stack, spender) as (session, chat):
        await chat.say(TRAINEE, timeout=30)  # under the budget when asked: answered, and now over it
        await chat.send("user_message", "Thank you. Can you confirm the email address on the account?")
        ack = await chat.recv_until("message_ack")
        error = await expect_error(chat, ack["message_id"])
        assert error["code"] == "llm_budget_exceeded"
        assert "300 tokens" in error["content"] and "00:00 UTC" in error["content"]
        assert len(fake_llm.requests) == 1  # the LLM was not asked
        assert stored_message(budget_stack, ack["message_id"])["role"] == "user"  # nothing lost

        async with chat_session(budget_stack, other) as (_, other_chat):
            await other_chat.say(TRAINEE, timeout=30)  # the budget is per user
        assert health(budget_stack)["llm"]["last_call_ok"] is True  # a refusal is not the LLM's failure
        usage = httpx.get(f"{budget_stack.base_url}/api/usage", headers={"Authorization": f"Bearer {spender}"}).json()
        assert usage["daily_token_budget_per_user"] == 300 and usage["totals"]["total_tokens"] >= 300

        # The next UTC day: yesterday's usage no longer counts, and a retry is answered.
        with sqlite3.connect(budget_stack.data_dir / "chattrain.db") as db:
            db.execute("UPDATE llm_usage SET day = '2000-01-01' WHERE user_id = 'spender'")
        reply = await retry_and_get_reply(chat, ack["message_id"])
    assert reply["content"] == REPLY
    assert reply["metadata"]["reply_to"] == ack["message_id"]


# --- what the model is sent -------------------------------------------------------------


def _answer_key(scenario) -> list[str]:  # noqa: ANN001
    """The scenario's hidden answer key, as it is written, each keyword entry also as
    its alternatives ("sorry|apologize" -> "sorry", "apologize"): the objectives, the
    rubric's names, descriptions, keywords, phrases, patterns and forbidden phrases, and
    every expected and required keyword."""
    literal = [*scenario.objectives]
    keyword_entries = [*scenario.completion.required_keywords]
    for criterion in scenario.rubric:
        literal += [criterion.name, " ".join(criterion.description.split()), *criterion.patterns]
        keyword_entries += [*criterion.keywords, *criterion.phrases, *criterion.forbidden]
    for line in scenario.bot_messages:
        keyword_entries += line.expected_keywords
    alternatives = [alternative for entry in keyword_entries for alternative in entry.split("|")]
    return [form.strip().lower() for form in [*literal, *keyword_entries, *alternatives] if form.strip()]


def _public_text(scenario) -> str:  # noqa: ANN001
    """What the customer is allowed to know: the scenario with its answer key removed,
    as the prompt builder would render it."""
    return build_system_prompt(_without_answer_key(scenario)).lower()


def _without_answer_key(scenario):  # noqa: ANN001, ANN202
    lines = tuple(line.model_copy(update={"expected_keywords": ()}) for line in scenario.bot_messages)
    completion = scenario.completion.model_copy(update={"required_keywords": ()})
    return scenario.model_copy(update={"rubric": (), "objectives": (), "bot_messages": lines, "completion": completion})


async def test_the_model_gets_a_system_prompt_then_alternating_turns_and_never_the_answer_key(openai_stack, fake_llm):
    scenario = next(s for s in load_scenarios(REPO_ROOT / "scenarios")[0] if s.slug == "customer-service")
    # Trainee lines free of the answer key, so that any key word in the request came from us.
    trainee_lines = [
        "Hello, I am on it. Could you tell me the email address on your membership?",
        "Got it. A new link is on its way to that address now.",
        "Good to hear you are in. Two payments went through, I am looking at them.",
    ]
    token = new_trainee(openai_stack, "prompted")
    async with chat_session(openai_stack, token) as (_, chat):
        for line in trainee_lines:
            await chat.say(line, timeout=30)

    assert len(fake_llm.requests) == len(trainee_lines)
    messages = fake_llm.requests[-1]["body"]["messages"]
    roles = [message["role"] for message in messages]
    assert roles[0] == "system" and "system" not in roles[1:]
    assert all(a != b for a, b in pairwise(roles[1:])), roles  # strictly alternating
    assert roles[-1] == "user"
    for line in trainee_lines:
        holders = [message["role"] for message in messages if line in message["content"]]
        assert holders == ["user"], (line, holders)

    system = messages[0]["content"]
    # The answer key changes nothing in the prompt: it is exactly what the scenario without
    # its rubric, objectives and keywords gives.
    assert system == build_system_prompt(_without_answer_key(scenario), lines_already_sent=roles.count("assistant"))
    allowed = _public_text(scenario)
    for request in fake_llm.requests:
        sent = json.dumps(request["body"], ensure_ascii=False).lower()
        for secret in _answer_key(scenario):
            if secret in allowed:
                continue  # the customer's own briefing says it ("reset", "refund", ...)
            assert not re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", sent), secret


# --- LLM grading of the report ------------------------------------------------------------


@pytest.fixture(name="grading_stack")
def _grading_stack(fake_llm: FakeOpenAIServer, tmp_path: Path) -> Iterator[Stack]:
    env = {**switch_env(fake_llm), "CHATTRAIN_LLM_GRADING": "on"}
    stack = Stack(data_dir=tmp_path / "data", extra_env=env)
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


def grading_answer(scenario, score: int) -> str:  # noqa: ANN001
    return json.dumps(
        {
            "criteria": [
                {"name": criterion.name, "score": score, "comment": f"{criterion.name}: fine."}
                for criterion in scenario.rubric
            ],
            "summary": "A calm, helpful start.",
        }
    )


def report_session_id(stack: Stack, token: str) -> int:
    """The user's newest session."""
    sessions = httpx.get(f"{stack.base_url}/api/sessions", headers={"Authorization": f"Bearer {token}"}).json()
    return sessions[0]["id"]


async def _graded_report(stack: Stack, token: str, fake_llm: FakeOpenAIServer, grading_reply: str) -> dict:
    async with chat_session(stack, token) as (_, chat):
        await chat.say(TRAINEE, timeout=30)
        fake_llm.set_reply(grading_reply)
        await chat.send("end_session")
        complete = await chat.recv_until("session_complete", timeout=30)
    fake_llm.set_reply(REPLY)
    return complete["summary"]


async def test_llm_grading_adds_a_validated_rubric_grading_next_to_the_deterministic_scores(grading_stack, fake_llm):
    scenario = next(s for s in load_scenarios(REPO_ROOT / "scenarios")[0] if s.slug == "customer-service")
    token = new_trainee(grading_stack, "graded")
    report = await _graded_report(grading_stack, token, fake_llm, grading_answer(scenario, 80))

    grading = report["llm_grading"]
    assert grading["overall_score"] == 80
    assert [c["name"] for c in grading["criteria"]] == [c.name for c in scenario.rubric]
    assert grading["summary"] == "A calm, helpful start." and grading["model"]
    assert 0 <= report["overall_score"] <= 100 and report["criteria"]  # the deterministic report is whole

    role_play, grading_request = fake_llm.requests
    assert "response_format" not in role_play["body"]
    assert grading_request["body"]["response_format"] == {"type": "json_object"}
    rubric_description = " ".join(scenario.rubric[0].description.split())
    assert rubric_description in grading_request["body"]["messages"][0]["content"]
    assert rubric_description not in json.dumps(role_play["body"])  # the rubric only ever goes to grading
    assert TRAINEE in grading_request["body"]["messages"][1]["content"]

    usage = httpx.get(f"{grading_stack.base_url}/api/usage", headers={"Authorization": f"Bearer {token}"}).json()
    (day,) = usage["days"]
    assert day["replies"] == 1  # grading tokens count for the trainee, not as a reply
    assert day["prompt_tokens"] == sum(count_words(r["body"]["messages"]) for r in fake_llm.requests)

    stored = httpx.get(
        f"{grading_stack.base_url}/api/sessions/{report_session_id(grading_stack, token)}/report",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert stored["llm_grading"] == grading


@pytest.mark.parametrize(
    "answer",
    [
        "This agent did well, 8/10.",
        json.dumps({"criteria": [{"name": "Empathy", "score": 80, "comment": "ok"}], "summary": "partial"}),
        json.dumps({"criteria": [{"name": "Charm", "score": 180, "comment": "?"}], "summary": "wrong"}),
    ],
    ids=["not-json", "missing-criteria", "unknown-criterion-out-of-range"],
)
async def test_an_unusable_grading_answer_leaves_the_deterministic_report_alone(grading_stack, fake_llm, answer):
    token = new_trainee(grading_stack, "badly-graded")
    report = await _graded_report(grading_stack, token, fake_llm, answer)
    assert report["llm_grading"] is None
    assert 0 <= report["overall_score"] <= 100 and report["criteria"]
    assert "LLM grading answer not usable" in grading_stack.log_text("worker")


# --- LLM judge of each reply ---------------------------------------------------------------

# A reply the offline judge reads as weak: no apology, no details asked for.
TERSE = "Okay. Looking into it now."


@pytest.fixture(name="judge_stack", scope="module")
def _judge_stack(fake_llm: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {**switch_env(fake_llm), "CHATTRAIN_LLM_JUDGE": "on", "CHATTRAIN_LLM_JUDGE_TIMEOUT_SECONDS": "2"}
    with started_stack(tmp_path_factory.mktemp("judge") / "data", **env) as stack:
        yield stack


def customer_service():  # noqa: ANN201
    return next(s for s in load_scenarios(REPO_ROOT / "scenarios")[0] if s.slug == "customer-service")


async def _feedback_for(stack: Stack, user_id: str, text: str) -> tuple[str, dict]:
    """The trainee's token and the feedback frame on their first reply."""
    token = new_trainee(stack, user_id)
    async with chat_session(stack, token) as (_, chat):
        ack, _reply = await chat.say(text, timeout=30)
        return token, await chat.recv_until("feedback", timeout=30, message_id=ack["message_id"])


async def test_the_llm_judge_decides_the_points_and_the_score_keeps_its_formula(judge_stack, fake_llm):
    from shared.training.judge import judge_reply

    scenario = customer_service()
    points = scenario.bot_messages[0].points
    reset_fake(
        fake_llm,
        reply=REPLY,
        json_answer=json.dumps({"made": list(range(1, len(points) + 1)), "fell_into": [], "rude": False}),
    )
    token, feedback = await _feedback_for(judge_stack, "judged", TERSE)

    assert feedback["score"] == 100 > judge_reply(scenario, 0, TERSE).score
    assert feedback["matched"] == [point.label for point in points]
    (judging,) = [r for r in fake_llm.requests if r["body"].get("response_format")]
    system, user = judging["body"]["messages"]
    assert "1. acknowledges the trouble" in system["content"]
    assert scenario.bot_messages[0].content.split(".")[0] in system["content"]
    assert user["content"] == f"[Reply]\n{TERSE}\n[End of reply]"  # the reply is evidence, apart from the rules

    usage = httpx.get(f"{judge_stack.base_url}/api/usage", headers={"Authorization": f"Bearer {token}"}).json()
    (day,) = usage["days"]
    assert day["replies"] == 1  # the judge's tokens count for the trainee, not as a reply
    assert day["prompt_tokens"] == sum(count_words(r["body"]["messages"]) for r in fake_llm.requests)


async def test_a_pitfall_or_a_dismissive_tone_the_llm_judge_finds_costs_what_it_costs_offline(judge_stack, fake_llm):
    reset_fake(fake_llm, reply=REPLY, json_answer=json.dumps({"made": [1, 2, 3, 4], "fell_into": [1], "rude": True}))
    _, feedback = await _feedback_for(judge_stack, "judged-wrong", TRAINEE)
    assert feedback["score"] <= 15 - 5  # a wrong act and a rude tone: two severe hits
    assert feedback["improve"][0]["text"] == "Verify the account with two details before you change anything on it."


@pytest.mark.parametrize(
    ("control", "log_line"),
    [
        ({"json_answer": "The agent did fine."}, "LLM judge answer not usable"),
        ({"json_answer": json.dumps({"made": [99], "fell_into": [], "rude": False})}, "LLM judge answer not usable"),
        (
            {"json_answer": json.dumps({"made": [1], "fell_into": [], "rude": False}), "json_hang_seconds": 6},
            "LLM judge past its budget",
        ),
    ],
    ids=["not-json", "out-of-range", "past-the-budget"],
)
async def test_without_a_usable_llm_verdict_the_offline_judgement_stands(judge_stack, fake_llm, control, log_line):
    from shared.training.judge import judge_reply

    reset_fake(fake_llm, reply=REPLY, **control)
    _, feedback = await _feedback_for(judge_stack, f"fallback-{len(judge_stack.log_text('worker'))}", TERSE)
    assert feedback["score"] == judge_reply(customer_service(), 0, TERSE).score
    assert log_line in judge_stack.log_text("worker")
