"""What each model family is sent, against the fake server on 127.0.0.1, which refuses
what the real servers refuse (tests/fakes/fake_openai.py): `max_tokens` or a temperature
for OpenAI's reasoning models, an unknown model with Ollama's 404."""

from __future__ import annotations

import json
import logging

import pytest

from shared.llm.base import LLMError
from shared.llm.grading import GRADING_MAX_TOKENS, grade_session
from shared.llm.judging import ask_model_judge
from shared.llm.openai_compat import OpenAICompatibleProvider, display_url, error_for_status
from shared.llm.parameters import is_reasoning_model, rejected_parameter, shape_for
from shared.settings import Settings
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.shared.llm.test_openai_compat import API_KEY, REPLY, collect, failure_of, make_request, make_scenario

ALLOWANCE = 1500


@pytest.fixture(name="fake_server")
def _fake_server():
    with FakeOpenAIServer(reply=REPLY, chunk_chars=10) as server:
        yield server


@pytest.fixture(name="make_provider")
def _make_provider(fake_server):
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
            reasoning_allowance_tokens=ALLOWANCE,
            reasoning_effort="low",
        )
        options.update(overrides)
        provider = OpenAICompatibleProvider(**options)
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


def sampling(body: dict) -> dict:
    """The body's sampling fields (everything but the messages and the streaming flags)."""
    return {k: v for k, v in body.items() if k not in ("model", "messages", "stream", "stream_options")}


# --- one per request shape ---------------------------------------------------------------


def test_a_classic_model_gets_max_tokens_and_the_scenarios_temperature(fake_server, make_provider):
    chunks, _ = collect(make_provider(), make_request(make_scenario(model="gpt-4.1-mini")))

    assert "".join(chunks) == REPLY
    (request,) = fake_server.requests
    assert sampling(request["body"]) == {"temperature": 0.35, "max_tokens": 120}


@pytest.mark.parametrize("model", ["o4-mini", "o3", "gpt-5-mini", "gpt-5.1", "openai/o3-mini"])
def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature(fake_server, make_provider, model):
    chunks, usage = collect(make_provider(), make_request(make_scenario(model=model)))

    assert "".join(chunks) == REPLY and usage.model == model
    (request,) = fake_server.requests  # accepted at the first try: the fake refuses max_tokens
    assert sampling(request["body"]) == {"max_completion_tokens": 120 + ALLOWANCE, "reasoning_effort": "low"}


def test_the_setting_forces_a_shape_whatever_the_name(fake_server, make_provider):
    collect(make_provider(parameters="reasoning"), make_request(make_scenario(model="my-azure-deployment")))
    collect(make_provider(parameters="classic", model="llama3.2"), make_request(make_scenario(model=None)))

    forced_reasoning, forced_classic = fake_server.requests
    assert sampling(forced_reasoning["body"]) == {"max_completion_tokens": 120 + ALLOWANCE, "reasoning_effort": "low"}
    assert sampling(forced_classic["body"]) == {"temperature": 0.35, "max_tokens": 120}


def test_an_empty_reasoning_effort_is_not_sent(fake_server, make_provider):
    collect(make_provider(reasoning_effort=""), make_request(make_scenario(model="o4-mini")))

    assert sampling(fake_server.requests[0]["body"]) == {"max_completion_tokens": 120 + ALLOWANCE}


def test_ollama_shape_no_key_no_authorization_header_classic_parameters(fake_server, make_provider):
    fake_server.set_models(["llama3.2"])
    provider = make_provider(api_key="", model="llama3.2")

    chunks, usage = collect(provider, make_request(make_scenario(model=None)))

    assert "".join(chunks) == REPLY and usage.model == "llama3.2"
    (request,) = fake_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert {name.lower() for name in request["headers"]}.isdisjoint({"authorization", "api-key"})
    assert request["body"]["model"] == "llama3.2"
    assert sampling(request["body"]) == {"temperature": 0.35, "max_tokens": 120}


def test_a_custom_auth_header_carries_the_bare_key_and_no_bearer(fake_server, make_provider):
    collect(make_provider(auth_header="api-key"))

    headers = fake_server.requests[0]["headers"]
    assert headers["api-key"] == API_KEY
    assert "authorization" not in {name.lower() for name in headers}


def test_the_auth_header_setting_reaches_the_provider_and_refuses_a_malformed_name(fake_server):
    settings = Settings(
        llm_provider="openai", llm_base_url=fake_server.base_url, llm_api_key=API_KEY, llm_auth_header="api-key"
    )
    provider = OpenAICompatibleProvider.from_settings(settings)
    try:
        collect(provider)
    finally:
        provider.close()
    assert fake_server.requests[0]["headers"]["api-key"] == API_KEY

    with pytest.raises(ValueError, match="llm_auth_header"):
        Settings(llm_auth_header="api key: x")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4.1-mini", {"temperature": 0, "max_tokens": 200}),
        ("o4-mini", {"max_completion_tokens": 200 + ALLOWANCE, "reasoning_effort": "low"}),
    ],
)
def test_judge_and_grading_json_calls_use_the_models_shape(fake_server, make_provider, model, expected):
    provider = make_provider(model=model)
    fake_server.set_reply('{"made": [1], "fell_into": [], "rude": false}')
    verdict, _ = ask_model_judge(provider, "My parcel is late.", ["apologises"], [], "Sorry!", max_tokens=200)
    scenario = make_scenario()
    fake_server.set_reply('{"criteria": [{"name": "empathy", "score": 70, "comment": "ok"}], "summary": "Fine."}')
    outcome = grade_session(provider, scenario, [{"role": "user", "content": "Sorry to hear that."}])

    assert verdict.made == frozenset({0}) and outcome.grading["overall_score"] == 70
    judging, grading = fake_server.requests
    for request in (judging, grading):
        assert request["body"]["response_format"] == {"type": "json_object"}
    assert sampling(judging["body"]) == {"response_format": {"type": "json_object"}, **expected}
    limit = "max_tokens" if "max_tokens" in expected else "max_completion_tokens"
    assert grading["body"][limit] == expected[limit] - 200 + GRADING_MAX_TOKENS


# --- a model the name rule gets wrong -------------------------------------------------------


def test_a_refused_parameter_is_dropped_at_once_and_remembered_for_that_model(fake_server, make_provider, caplog):
    # "o9-preview" matches the fake's (OpenAI's) rule but, forced classic, we send max_tokens.
    provider = make_provider(parameters="classic")
    request = make_request(make_scenario(model="o9-preview"))

    with caplog.at_level(logging.WARNING, logger="chattrain.llm"):
        chunks, _ = collect(provider, request)
        collect(provider, request)
        collect(provider, make_request(make_scenario(model="gpt-4.1-mini")))

    assert "".join(chunks) == REPLY
    refused, answered, again, other = (r["body"] for r in fake_server.requests)
    assert sampling(refused) == {"temperature": 0.35, "max_tokens": 120}
    # Refusing max_tokens marks a reasoning model: the reshaped request drops the temperature too.
    assert (
        sampling(answered) == sampling(again) == {"max_completion_tokens": 120 + ALLOWANCE, "reasoning_effort": "low"}
    )
    assert sampling(other) == {"temperature": 0.35, "max_tokens": 120}  # another model keeps its shape
    assert [r.getMessage() for r in caplog.records if "refused the parameter" in r.getMessage()] == [
        "LLM model 'o9-preview' refused the parameter 'max_tokens'; it is sent without it from now on "
        "(CHATTRAIN_LLM_PARAMETERS picks the shape up front)"
    ]


def test_a_parameter_refused_again_is_a_bad_request_not_a_loop(fake_server, make_provider):
    fake_server.queue(count=5, status=400, error_message="Unsupported parameter: 'temperature' is not supported.")

    error = failure_of(make_provider())

    assert (error.code, error.retryable) == ("llm_bad_request", False)
    assert len(fake_server.requests) == 2  # asked once without it; the second refusal ends it
    assert "temperature" not in fake_server.requests[1]["body"]


# --- a model the server does not have ----------------------------------------------------------


def test_an_unknown_ollama_model_is_llm_model_not_found_named_for_trainee_and_operator(
    fake_server, make_provider, caplog
):
    fake_server.set_models(["llama3.2"])
    provider = make_provider(api_key="", model="gpt-4o-mini", base_url=fake_server.base_url.replace("//", "//user:pw@"))

    with caplog.at_level(logging.ERROR, logger="chattrain.llm"):
        error = failure_of(provider, make_request(make_scenario(model=None)))

    assert (error.code, error.retryable) == ("llm_model_not_found", False)
    assert len(fake_server.requests) == 1  # not retried
    assert "'gpt-4o-mini' is not available" in error.message and "pulled first" in error.message
    assert fake_server.base_url in error.message and "pw@" not in error.message
    (line,) = [r.getMessage() for r in caplog.records if "not found" in r.getMessage()]
    assert line == f"LLM model not found: model='gpt-4o-mini' base_url={fake_server.base_url} status=404"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (
            404,
            {"message": "The model `gpt-9` does not exist or you do not have access to it.", "code": "model_not_found"},
        ),
        (404, {"message": "The API deployment for this resource does not exist.", "code": "DeploymentNotFound"}),
        (404, {"message": "The model `gpt-9` does not exist.", "type": "NotFoundError", "code": 404}),
        (400, {"message": "400: Invalid model name passed in model=gpt-9.", "type": "None", "code": "400"}),
    ],
    ids=["openai", "azure", "vllm", "litellm"],
)
def test_each_servers_way_of_saying_the_model_is_missing_maps_to_llm_model_not_found(status, error):
    mapped = error_for_status(status, json.dumps({"error": error}).encode(), None, where="http://h/v1", model="gpt-9")
    assert mapped.code == "llm_model_not_found"
    assert "does not exist" not in mapped.message  # the server's free text is matched, never quoted


def test_a_404_that_does_not_name_a_model_stays_a_bad_request():
    assert error_for_status(404, b"404 page not found", None, where="http://h", model="m").code == "llm_bad_request"


# --- the rules themselves ---------------------------------------------------------------------


def test_the_name_rule():
    reasoning = ["o1", "o1-mini", "o3", "o3-mini", "o4-mini-2025-04-16", "gpt-5", "gpt-5-mini", "gpt-5.1", "O3"]
    classic = ["gpt-4o-mini", "gpt-4.1-mini", "llama3.2", "omni-moderation", "gpt-oss:20b", "qwen2.5", "o", "gpt-50x"]
    assert all(is_reasoning_model(name) for name in reasoning)
    assert all(is_reasoning_model(f"azure/{name}") for name in reasoning)
    assert not any(is_reasoning_model(name) for name in classic)
    assert shape_for("llama3.2", "reasoning") == "reasoning" and shape_for("o3", "classic") == "classic"


def test_a_refused_parameter_is_read_from_param_or_from_the_message_only_within_the_known_set():
    assert rejected_parameter({"error": {"param": "temperature", "code": "unsupported_value"}}) == "temperature"
    gateway = {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported", "code": "x"}}
    assert rejected_parameter(gateway) == "max_tokens"
    assert rejected_parameter({"error": {"param": "messages", "message": "Unsupported value: 'messages'"}}) is None
    assert rejected_parameter({"error": "Unsupported parameter: 'max_tokens'"}) is None


def test_display_url_drops_credentials_and_query():
    assert display_url("https://u:p@gw.example:8443/v1?key=k") == "https://gw.example:8443/v1"
    assert display_url("http://[::1]:4000/v1") == "http://[::1]:4000/v1"


def test_a_json_call_for_a_missing_model_is_llm_model_not_found(fake_server, make_provider):
    fake_server.set_models(["other"])
    with pytest.raises(LLMError) as caught:
        make_provider().complete_json([{"role": "user", "content": "{}"}], max_tokens=10)
    assert caught.value.code == "llm_model_not_found"
