"""The real web and worker processes on a reasoning model (o4-mini), against the fake
OpenAI server on 127.0.0.1, which refuses what OpenAI refuses (`max_tokens`, a
temperature) and answers a model it does not serve with Ollama's 404."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.test_openai_provider_e2e import (
    API_KEY,
    REPLY,
    TRAINEE,
    chat_session,
    expect_error,
    new_trainee,
    reset_fake,
    stored_message,
    switch_env,
)
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.support.stack import Stack, started_stack

pytestmark = pytest.mark.e2e

MODEL = "o4-mini"
VERDICT = json.dumps({"made": [1], "fell_into": [], "rude": False})


@pytest.fixture(name="fake_llm", scope="module")
def _fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=REPLY, models=[MODEL]) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake_llm: FakeOpenAIServer) -> None:
    reset_fake(fake_llm, reply=REPLY, models=[MODEL], json_answer=VERDICT)


@pytest.fixture(name="reasoning_stack", scope="module")
def _reasoning_stack(fake_llm: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **switch_env(fake_llm),
        "CHATTRAIN_LLM_MODEL": MODEL,  # the only setting added: the shape follows the name
        "CHATTRAIN_LLM_JUDGE": "on",
        "CHATTRAIN_LLM_JUDGE_TIMEOUT_SECONDS": "5",
    }
    with started_stack(tmp_path_factory.mktemp("reasoning") / "data", **env) as stack:
        yield stack


async def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature_for_reply_and_judge(
    reasoning_stack, fake_llm
):
    token = new_trainee(reasoning_stack, "reasoner")
    async with chat_session(reasoning_stack, token) as (_, chat):
        ack, reply = await chat.say(TRAINEE, timeout=30)
        feedback = await chat.recv_until("feedback", timeout=30, message_id=ack["message_id"])

    assert reply["content"] == REPLY
    assert stored_message(reasoning_stack, reply["message_id"])["metadata"]["model"] == MODEL
    assert feedback["matched"]  # the judge's verdict came back through its JSON call
    # One request each, accepted at once: the fake answers max_tokens or a temperature with a 400.
    (judging,) = [r["body"] for r in fake_llm.requests if r["body"].get("response_format")]
    (role_play,) = [r["body"] for r in fake_llm.requests if not r["body"].get("response_format")]
    for body in (role_play, judging):
        assert body["model"] == MODEL and body["reasoning_effort"] == "low"
        assert not {"max_tokens", "temperature", "top_p"} & body.keys()
    # The scenario's max_tokens (220) and the judge's (200), each with the default reasoning allowance.
    assert role_play["max_completion_tokens"] == 220 + 2000
    assert judging["max_completion_tokens"] == 200 + 2000
    assert "refused the parameter" not in reasoning_stack.log_text("worker")


async def test_a_model_the_server_lacks_is_llm_model_not_found_for_the_trainee_and_named_in_the_log(
    reasoning_stack, fake_llm
):
    fake_llm.set_models(["llama3.2"])  # the server no longer has o4-mini
    token = new_trainee(reasoning_stack, "missing-model")
    async with chat_session(reasoning_stack, token) as (_, chat):
        await chat.send("user_message", TRAINEE)
        ack = await chat.recv_until("message_ack")
        error = await expect_error(chat, ack["message_id"])

    assert error["code"] == "llm_model_not_found"
    assert f"the model '{MODEL}' is not available" in error["content"]
    assert "retry" in error["content"]
    role_play = [r for r in fake_llm.requests if not r["body"].get("response_format")]
    assert len(role_play) == 1  # not retried: asking again cannot make the model appear
    worker_log = reasoning_stack.log_text("worker")
    assert f"LLM model not found: model='{MODEL}' base_url={fake_llm.base_url} status=404" in worker_log
    assert reasoning_stack.health()["llm"]["last_error_code"] == "llm_model_not_found"
    assert API_KEY not in reasoning_stack.all_logs()
