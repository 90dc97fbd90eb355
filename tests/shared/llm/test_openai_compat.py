"""The OpenAI-compatible provider against a fake server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from shared.llm.base import ChatTurn, LLMError, ReplyRequest
from shared.llm.openai_compat import OpenAICompatibleProvider, backoff_delay, iter_sse_data, parse_retry_after
from shared.scenarios.model import BotMessage, Completion, LLMConfig, Persona, RubricCriterion, Scenario
from shared.settings import Settings
from tests.fakes.fake_openai import FakeOpenAIServer, count_words
from tests.support.stack import REPO_ROOT

API_KEY = "sk-test-qzx-not-a-real-key"
REPLY = "Right, so where exactly is my lamp? I need it by tomorrow."
SECRET_STRINGS = (
    "qzxexpectedalpha",
    "qzxexpectedbeta",
    "qzxrubrickeyword",
    "qzx rubric phrase",
    "qzxrequiredkeyword",
)
LATEST_TRAINEE_MESSAGE = "Thanks, let me check the tracking for you."


def make_scenario(*, model: str | None = "scenario-model-x") -> Scenario:
    return Scenario(
        slug="late-parcel",
        title="Late parcel",
        description="A customer's parcel has not arrived.",
        duration_minutes=10,
        persona=Persona(name="Dana", mood="irritated", background="Ordered a lamp.", role="customer"),
        situation="The parcel is three days late.",
        behaviour="Short sentences.",
        bot_messages=(
            BotMessage(content="Hi, my parcel still hasn't arrived.", expected_keywords=("qzxexpectedalpha",)),
            BotMessage(content="It's order 4471.", expected_keywords=("qzxexpectedbeta",)),
        ),
        llm_config=LLMConfig(model=model, temperature=0.35, max_tokens=120),
        rubric=(RubricCriterion(name="empathy", keywords=("qzxrubrickeyword",), phrases=("qzx rubric phrase",)),),
        completion=Completion(required_keywords=("qzxrequiredkeyword",)),
        folder=Path("."),
    )


def make_request(scenario=None) -> ReplyRequest:
    history = (
        ChatTurn("assistant", "Hi, my parcel still hasn't arrived."),
        ChatTurn("user", "Sorry to hear that. Can I have your order number?"),
        ChatTurn("assistant", "It's order 4471."),
        ChatTurn("user", LATEST_TRAINEE_MESSAGE),
    )
    return ReplyRequest(scenario=scenario or make_scenario(), history=history, session_id=1, reply_to=4)


def collect(provider: OpenAICompatibleProvider, request: ReplyRequest | None = None):
    """Run one reply to the end; returns (chunks, usage)."""
    stream = provider.stream_reply(request or make_request())
    chunks = list(stream)
    return chunks, stream.usage


def failure_of(provider: OpenAICompatibleProvider, request: ReplyRequest | None = None) -> LLMError:
    with pytest.raises(LLMError) as caught:
        collect(provider, request)
    return caught.value


@pytest.fixture(name="fake_server")
def _fake_server():
    with FakeOpenAIServer(reply=REPLY, chunk_chars=10) as server:
        yield server


@pytest.fixture(name="make_provider")
def _make_provider(fake_server):
    """Build providers aimed at the fake server; small timeouts keep failure tests quick."""
    providers = []

    def make(**overrides) -> OpenAICompatibleProvider:
        options = dict(
            base_url=fake_server.base_url,
            api_key=API_KEY,
            model="settings-model",
            request_timeout_seconds=2.0,
            total_timeout_seconds=10.0,
            max_retries=2,
            context_tokens=4000,
            backoff_base_seconds=0.01,
        )
        options.update(overrides)
        provider = OpenAICompatibleProvider(**options)
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


def test_streams_the_reply_in_chunks_and_reports_the_servers_usage(fake_server, make_provider):
    chunks, usage = collect(make_provider())

    assert len(chunks) > 1
    assert "".join(chunks) == REPLY
    body = fake_server.requests[0]["body"]
    assert usage.prompt_tokens == count_words(body["messages"])
    assert usage.completion_tokens == len(REPLY.split())
    assert usage.model == "scenario-model-x"


def test_usage_is_estimated_when_the_server_sends_none(fake_server, make_provider):
    fake_server.queue(no_usage=True)

    chunks, usage = collect(make_provider())

    assert "".join(chunks) == REPLY
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.completion_tokens != len(REPLY.split())  # our tokenizer's count, not the fake's


def test_nothing_is_sent_until_the_stream_is_iterated(fake_server, make_provider):
    stream = make_provider().stream_reply(make_request())
    assert fake_server.requests == []

    list(stream)
    assert len(fake_server.requests) == 1


def test_request_body_has_system_prompt_then_alternating_turns_and_llm_config(fake_server, make_provider):
    collect(make_provider())

    body = fake_server.requests[0]["body"]
    assert fake_server.requests[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "scenario-model-x"
    assert body["temperature"] == 0.35
    assert body["max_tokens"] == 120
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    roles = [message["role"] for message in body["messages"]]
    assert roles == ["system", "assistant", "user", "assistant", "user"]
    assert body["messages"][-1]["content"] == LATEST_TRAINEE_MESSAGE


def test_configured_model_is_used_when_the_scenario_names_none(fake_server, make_provider):
    collect(make_provider(), make_request(make_scenario(model=None)))

    assert fake_server.requests[0]["body"]["model"] == "settings-model"


def test_request_never_contains_rubric_expected_or_required_keywords(fake_server, make_provider):
    collect(make_provider())

    sent = json.dumps(fake_server.requests[0]["body"]).lower()
    for secret in SECRET_STRINGS:
        assert secret not in sent


def test_context_budget_trims_old_turns_but_keeps_system_prompt_and_latest_message(fake_server, make_provider):
    history = [ChatTurn("assistant" if n % 2 == 0 else "user", f"turn {n} " + "blah " * 100) for n in range(41)]
    history.append(ChatTurn("user", LATEST_TRAINEE_MESSAGE))
    request = ReplyRequest(scenario=make_scenario(), history=tuple(history), session_id=1, reply_to=42)

    collect(make_provider(context_tokens=1500), request)

    messages = fake_server.requests[0]["body"]["messages"]
    assert messages[0]["role"] == "system"
    assert messages[-1] == {"role": "user", "content": LATEST_TRAINEE_MESSAGE}
    assert 2 < len(messages) < len(history)


def test_authorization_header_carries_the_api_key(fake_server, make_provider):
    collect(make_provider())

    headers = {name.lower(): value for name, value in fake_server.requests[0]["headers"].items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"


def test_no_authorization_header_is_sent_without_a_key(fake_server, make_provider):
    collect(make_provider(api_key=""))

    assert "authorization" not in {name.lower() for name in fake_server.requests[0]["headers"]}


def test_rate_limit_is_retried_after_the_servers_retry_after(fake_server, make_provider):
    fake_server.queue(count=2, status=429, retry_after="0.1")

    chunks, _ = collect(make_provider(max_retries=3))

    assert "".join(chunks) == REPLY
    times = [request["received_at"] for request in fake_server.requests]
    assert len(times) == 3
    assert all(later - earlier >= 0.1 for earlier, later in pairwise(times))


def test_rate_limit_beyond_the_retries_raises_retryable_llm_rate_limited(fake_server, make_provider):
    fake_server.queue(count=5, status=429, retry_after="0.1")

    error = failure_of(make_provider(max_retries=1))

    assert (error.code, error.retryable, error.retry_after_seconds) == ("llm_rate_limited", True, 0.1)
    assert len(fake_server.requests) == 2


def test_retry_after_longer_than_the_total_budget_is_handed_to_the_worker(fake_server, make_provider):
    fake_server.queue(count=5, status=429, retry_after="30")

    error = failure_of(make_provider(total_timeout_seconds=2.0))

    assert (error.code, error.retry_after_seconds) == ("llm_rate_limited", 30.0)
    assert len(fake_server.requests) == 1


def test_server_error_is_retried(fake_server, make_provider):
    fake_server.queue(status=500)

    chunks, _ = collect(make_provider())

    assert "".join(chunks) == REPLY
    assert len(fake_server.requests) == 2


def test_persistent_server_errors_raise_retryable_llm_unavailable(fake_server, make_provider):
    fake_server.queue(count=10, status=503)

    error = failure_of(make_provider(max_retries=2))

    assert (error.code, error.retryable) == ("llm_unavailable", True)
    assert len(fake_server.requests) == 3


def test_hanging_server_is_retried_then_raises_llm_timeout_within_the_total_budget(fake_server, make_provider):
    fake_server.queue(count=10, hang_seconds=5)
    provider = make_provider(request_timeout_seconds=0.3, total_timeout_seconds=6.0, max_retries=2)

    started = time.monotonic()
    error = failure_of(provider)
    elapsed = time.monotonic() - started

    assert (error.code, error.retryable) == ("llm_timeout", True)
    assert len(fake_server.requests) == 3
    assert elapsed < 6.0 + 3.0  # the budget, plus generous slack for a busy machine


def test_total_budget_stops_retries_before_max_retries_is_reached(fake_server, make_provider):
    fake_server.queue(count=50, hang_seconds=5)
    provider = make_provider(request_timeout_seconds=0.3, total_timeout_seconds=1.0, max_retries=20)

    error = failure_of(provider)

    assert error.code == "llm_timeout"
    assert 1 <= len(fake_server.requests) <= 4  # 1 s budget / 0.3 s per attempt


def test_malformed_stream_raises_llm_malformed_response_without_retrying(fake_server, make_provider):
    fake_server.queue(count=3, malformed=True)

    error = failure_of(make_provider())

    assert (error.code, error.retryable) == ("llm_malformed_response", False)
    assert len(fake_server.requests) == 1


def test_unauthorised_is_not_retried_and_does_not_reveal_the_key(fake_server, make_provider):
    fake_server.queue(count=3, status=401, error_message=f"Incorrect API key provided: {API_KEY}")

    error = failure_of(make_provider())

    assert (error.code, error.retryable) == ("llm_auth_failed", False)
    assert len(fake_server.requests) == 1
    assert API_KEY not in error.message and API_KEY not in str(error)


def test_bad_request_is_not_retried_and_does_not_echo_the_prompt(fake_server, make_provider):
    fake_server.queue(count=3, status=400, error_message=f"Invalid message: {LATEST_TRAINEE_MESSAGE}")

    error = failure_of(make_provider())

    assert (error.code, error.retryable) == ("llm_bad_request", False)
    assert len(fake_server.requests) == 1
    assert LATEST_TRAINEE_MESSAGE not in error.message
    assert "Dana" not in error.message


def test_unknown_model_is_a_bad_request(fake_server, make_provider):
    fake_server.queue(status=404)

    assert failure_of(make_provider()).code == "llm_bad_request"


def test_stream_cut_part_way_raises_retryable_llm_stream_interrupted(fake_server, make_provider):
    fake_server.queue(cut_after_chunks=2)
    received = []

    with pytest.raises(LLMError) as caught:
        for chunk in make_provider().stream_reply(make_request()):
            received.append(chunk)

    assert (caught.value.code, caught.value.retryable) == ("llm_stream_interrupted", True)
    assert len(received) == 2
    assert len(fake_server.requests) == 1  # the provider must not retry after handing out text


def test_a_stream_outlasting_the_total_budget_is_interrupted(fake_server, make_provider):
    fake_server.queue(chunk_delay_seconds=0.5)  # six chunks: three seconds in all
    received = []

    with pytest.raises(LLMError) as caught:
        for chunk in make_provider(total_timeout_seconds=1.5).stream_reply(make_request()):
            received.append(chunk)

    assert caught.value.code == "llm_stream_interrupted"
    assert 1 <= len(received) < len(REPLY) // 10


def test_stream_cut_before_any_text_is_retried(fake_server, make_provider):
    fake_server.queue(cut_after_chunks=0)

    chunks, _ = collect(make_provider())

    assert "".join(chunks) == REPLY
    assert len(fake_server.requests) == 2


def test_stream_closed_cleanly_but_unfinished_is_retried_before_text_and_interrupted_after():
    # A clean end of body without [DONE] or a finish_reason (HTTP/1.0 servers, proxies);
    # httpx's in-memory transport stands in for such a server.
    role_only = b'data: {"choices": [{"delta": {"role": "assistant"}}]}\n\n'
    some_text = b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'
    bodies = [role_only, role_only + some_text]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=bodies.pop(0))

    client = httpx.Client(transport=httpx.MockTransport(answer))
    provider = OpenAICompatibleProvider(
        base_url="http://127.0.0.1:9/v1",
        api_key="",
        model="m",
        request_timeout_seconds=1,
        total_timeout_seconds=5,
        max_retries=3,
        context_tokens=4000,
        client=client,
        backoff_base_seconds=0.01,
    )
    received = []

    with pytest.raises(LLMError) as caught:
        for chunk in provider.stream_reply(make_request()):
            received.append(chunk)

    assert caught.value.code == "llm_stream_interrupted"
    assert received == ["Hel"]
    assert bodies == []  # both answers used: one retry, then the interruption
    client.close()


def test_a_whole_json_completion_is_accepted_in_place_of_a_stream(fake_server, make_provider):
    fake_server.queue(json_reply=True)

    chunks, usage = collect(make_provider())

    assert chunks == [REPLY]
    assert usage.completion_tokens == len(REPLY.split())


def test_a_reply_without_text_raises_llm_empty_reply(fake_server, make_provider):
    fake_server.set_reply("")

    error = failure_of(make_provider())

    assert (error.code, error.retryable) == ("llm_empty_reply", True)


def test_refused_connection_raises_llm_unavailable_after_retries(make_provider):
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    error = failure_of(make_provider(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1))

    assert (error.code, error.retryable) == ("llm_unavailable", True)


def test_one_provider_serves_several_worker_threads_at_once(fake_server, make_provider):
    provider = make_provider()
    replies: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        text = "".join(provider.stream_reply(make_request()))
        with lock:
            replies.append(text)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert replies == [REPLY] * 6
    assert len(fake_server.requests) == 6


def test_consecutive_replies_reuse_one_pooled_connection(fake_server, make_provider):
    provider = make_provider()

    for _ in range(3):
        collect(provider)

    assert len({request["client_port"] for request in fake_server.requests}) == 1


def test_from_settings_reads_the_llm_settings(fake_server):
    settings = Settings(
        llm_provider="openai",
        llm_base_url=fake_server.base_url,
        llm_api_key=API_KEY,
        llm_model="from-settings",
    )
    provider = OpenAICompatibleProvider.from_settings(settings)
    try:
        collect(provider, make_request(make_scenario(model=None)))
    finally:
        provider.close()

    assert provider.name == "openai"
    assert fake_server.requests[0]["body"]["model"] == "from-settings"


def test_parse_retry_after_reads_seconds_and_http_dates():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.1") == 0.1
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0  # already past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_per_retry_up_to_a_cap_with_jitter_in_the_upper_half():
    assert backoff_delay(1, base_seconds=0.5, random_fraction=lambda: 0.0) == 0.25
    assert backoff_delay(1, base_seconds=0.5, random_fraction=lambda: 1.0) == 0.5
    assert backoff_delay(3, base_seconds=0.5, random_fraction=lambda: 1.0) == 2.0
    assert backoff_delay(20, base_seconds=0.5, random_fraction=lambda: 1.0) == 8.0


def test_backoff_waits_at_least_what_retry_after_asks():
    assert backoff_delay(1, base_seconds=0.5, retry_after=3.0, random_fraction=lambda: 0.0) == 3.0
    assert 3.0 <= backoff_delay(1, base_seconds=0.5, retry_after=3.0) <= 3.3


def test_sse_parser_skips_comments_and_joins_multi_line_data():
    lines = [": keep-alive", "", "event: message", 'data: {"a":', "data: 1}", "", "data:[DONE]", ""]

    assert list(iter_sse_data(lines)) == ['{"a":\n1}', "[DONE]"]


def test_fake_server_runs_standalone_and_is_steered_over_http(tmp_path):
    root = REPO_ROOT
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_openai", "--port", "0", "--reply", REPLY],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        control = base_url.removesuffix("/v1")
        httpx.post(f"{control}/_control", json={"queue": [{"count": 1, "status": 500}]}, timeout=5).raise_for_status()
        provider = OpenAICompatibleProvider(
            base_url=base_url,
            api_key=API_KEY,
            model="m",
            request_timeout_seconds=5,
            total_timeout_seconds=20,
            max_retries=2,
            context_tokens=4000,
            backoff_base_seconds=0.01,
        )
        try:
            chunks, _ = collect(provider)
        finally:
            provider.close()
        recorded = httpx.get(f"{control}/_requests", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert "".join(chunks) == REPLY
    assert len(recorded) == 2
    assert recorded[1]["body"]["messages"][-1]["content"] == LATEST_TRAINEE_MESSAGE


def test_hundreds_of_connections_are_spread_over_small_pools_least_busy_first():
    from shared.llm.http_clients import POOL_CONNECTIONS, HTTPClients

    clients = HTTPClients(max_connections=500, timeout_seconds=1.0)
    try:
        assert len(clients._clients) * POOL_CONNECTIONS >= 500
        assert all(client._transport._pool._max_connections <= POOL_CONNECTIONS for client in clients._clients)
        with clients.one() as first, clients.one() as second:
            assert first is not second  # the second request goes to a pool not in use
        with clients.one() as again:
            assert again is first  # all idle again: the first pool is the least busy
    finally:
        clients.close()
