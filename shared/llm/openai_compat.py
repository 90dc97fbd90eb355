"""LLM provider for any server that speaks OpenAI's chat-completions API (OpenAI itself,
Azure-style gateways, vLLM, Ollama, llama.cpp, LM Studio, OpenRouter, ...).

One reply is one streamed POST to {base_url}/chat/completions. Failures before the first
chunk of text can be retried here (429, 5xx, timeouts, dropped connections) with
exponential backoff and jitter, honouring Retry-After, within both the retry count and
the total time budget: grading calls get `max_retries`; replies get `reply_retries`,
which the deployment sets to 0 because the worker retries a reply itself (a provider
sleeping out a backoff would hold a model slot). Once text has been handed out a retry
would duplicate it, so any later failure becomes a retryable "llm_stream_interrupted"
and the worker starts the reply over.

The sampling parameters follow the model's family (shared/llm/parameters.py). A 400 that
names a parameter the model does not support (`temperature`, `max_tokens`, ...) is asked
again at once without it, once per parameter, and the provider remembers that model's
refusals for the life of the process, so only the first request pays for the lesson.

Error codes (LLMError.code):
    llm_rate_limited        429 after the retries; retryable (retry_after_seconds set when the
                            server said how long to wait)
    llm_unavailable         5xx, refused/dropped connection or a stream that ended early,
                            after the retries; retryable
    llm_timeout             no answer within the request timeout or the total budget, after
                            the retries; retryable
    llm_stream_interrupted  any failure after part of the reply was streamed; retryable
    llm_auth_failed         401/403: wrong or missing API key; not retryable
    llm_model_not_found     the server does not have the model asked for (a 404 or 400
                            whose error says so: OpenAI's `model_not_found`, Azure's
                            `DeploymentNotFound`, Ollama's "not found, try pulling it",
                            vLLM's "does not exist", LiteLLM's "Invalid model name");
                            not retryable, and logged with the model and base URL
    llm_bad_request         400/404/422 and other 4xx (bad URL, too long a prompt); not
                            retryable
    llm_malformed_response  the server's answer is not OpenAI-shaped (bad JSON, unexpected
                            content type or structure); not retryable, because in practice it
                            means the base URL points at something that is not an
                            OpenAI-compatible endpoint, and asking again gives the same answer
    llm_empty_reply         the stream completed with no text; retryable (sampling may
                            produce text next time) unless the server's content filter cut it

Messages name the status, the server's error type/code identifiers and the base URL, but
never the API key, the server's free-text message or anything from the prompt.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from shared.llm.base import LLMError, ReplyRequest, ReplyStream, Usage
from shared.llm.http_clients import HTTPClients, OneClient
from shared.llm.parameters import rejected_parameter, sampling_parameters, shape_for
from shared.llm.prompt import MESSAGE_OVERHEAD_TOKENS, REPLY_PRIMING_TOKENS, build_messages
from shared.llm.tokens import count_tokens

# Codes of failures that a fresh attempt may cure; others are raised at once.
RETRIED_CODES = frozenset({"llm_rate_limited", "llm_unavailable", "llm_timeout"})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0

# Server-sent identifiers (error type/code) we are willing to quote in messages: short
# tokens only, never free text, which may echo the prompt back.
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

# An error saying the model is not there. The free text is only matched, never quoted.
_MODEL_MISSING_CODES = frozenset({"model_not_found", "deploymentnotfound"})
_MODEL_MISSING_TEXT = re.compile(
    r"\bmodel\b.{0,200}?(?:\bnot found\b|\bdoes not exist\b)|invalid model name", re.IGNORECASE | re.DOTALL
)

log = logging.getLogger("chattrain.llm")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date);
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(
    retry_number: int,
    *,
    base_seconds: float,
    retry_after: float | None = None,
    max_seconds: float = BACKOFF_MAX_SECONDS,
    random_fraction: Callable[[], float] = random.random,
) -> float:
    """Seconds to sleep before retry number `retry_number` (1 for the first retry).

    Without a server hint: exponential, capped, with the upper half jittered so that
    worker threads that failed together do not retry together. With Retry-After: at
    least what the server asked, plus up to 10% for the same reason.
    """
    if retry_after is not None:
        return retry_after * (1 + 0.1 * random_fraction())
    ceiling = min(max_seconds, base_seconds * 2 ** (retry_number - 1))
    return ceiling / 2 + random_fraction() * ceiling / 2


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event, multi-line data joined by newlines.

    Comment lines (": keep-alive", sent by some gateways) and the event/id/retry fields
    carry nothing we use and are skipped.
    """
    data_lines: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            if data_lines:
                yield "\n".join(data_lines)
                data_lines = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data_lines.append(value[1:] if value.startswith(" ") else value)
    if data_lines:  # a last event without its blank line
        yield "\n".join(data_lines)


def _server_identifiers(payload: Any) -> str:
    """' (type=..., code=...)' from an OpenAI-style error object, identifiers only."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return ""
    parts = [
        f"{key}={error[key]}"
        for key in ("type", "code")
        if isinstance(error.get(key), (str, int)) and _IDENTIFIER.match(str(error[key]))
    ]
    return f" ({', '.join(parts)})" if parts else ""


class ParameterRejected(LLMError):
    """A 400 naming a sampling parameter the model does not support (`parameter`)."""

    def __init__(self, message: str, parameter: str):
        super().__init__("llm_bad_request", message, retryable=False)
        self.parameter = parameter


def _says_model_missing(payload: Any) -> bool:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, str):  # some servers answer {"error": "model 'x' not found"}
        return bool(_MODEL_MISSING_TEXT.search(error))
    if not isinstance(error, dict):
        return False
    code = error.get("code")
    if isinstance(code, str) and code.lower() in _MODEL_MISSING_CODES:
        return True
    message = error.get("message")
    return isinstance(message, str) and bool(_MODEL_MISSING_TEXT.search(message))


def error_for_status(
    status: int, body: bytes, retry_after: float | None, *, where: str, model: str | None = None
) -> LLMError:
    """The LLMError for a non-2xx answer (`model`: the model that was asked for)."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    detail = _server_identifiers(payload)
    answered = f"the LLM server at {where} answered HTTP {status}{detail}"
    if status in (400, 404) and model and _says_model_missing(payload):
        return LLMError(
            "llm_model_not_found",
            f"the model {model!r} is not available: {answered}. Check CHATTRAIN_LLM_MODEL (or the scenario's "
            "llm_config.model); a local server such as Ollama needs the model pulled first",
            retryable=False,
        )
    if status == 400 and (parameter := rejected_parameter(payload)):
        return ParameterRejected(f"{answered}: the model does not support {parameter!r}", parameter)
    if status in (401, 403):
        return LLMError("llm_auth_failed", f"{answered}: check CHATTRAIN_LLM_API_KEY", retryable=False)
    if status == 429:
        return LLMError(
            "llm_rate_limited", f"{answered}: rate limited", retryable=True, retry_after_seconds=retry_after
        )
    if status == 408:
        return LLMError("llm_timeout", answered, retryable=True, retry_after_seconds=retry_after)
    if status >= 500:
        return LLMError("llm_unavailable", answered, retryable=True, retry_after_seconds=retry_after)
    hint = ": check CHATTRAIN_LLM_BASE_URL and the model name" if status in (301, 302, 307, 308, 404) else ""
    return LLMError("llm_bad_request", f"{answered}{hint}", retryable=False)


def display_url(url: str) -> str:
    """`url` fit for logs and messages: without user:password@ or a query string, where
    a gateway's credentials may sit."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:  # a port that is not a number: the request fails on its own
        netloc = host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _malformed(what: str) -> LLMError:
    return LLMError("llm_malformed_response", f"the LLM server's answer is not OpenAI-shaped: {what}", retryable=False)


def _choices(chunk: Any) -> list[dict[str, Any]]:
    """The `choices` of a completion or chunk, checked for shape."""
    if not isinstance(chunk, dict):
        raise _malformed("a chunk is not a JSON object")
    choices = chunk.get("choices") or []  # the usage chunk has none
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        raise _malformed("'choices' is not a list of objects")
    return choices


def _text_of(part: Any) -> str:
    """`delta` or `message` -> its text; role-only and tool-call parts have none."""
    if part is None:
        return ""
    if not isinstance(part, dict) or not isinstance(part.get("content") or "", str):
        raise _malformed("a message 'content' is not text")
    return part.get("content") or ""


@dataclass(frozen=True)
class _Call:
    """One model call before its model's shape is applied: the body's fixed fields and
    the sampling wishes (the scenario's llm_config, or the JSON calls' own)."""

    fixed: dict[str, Any]
    temperature: float | None
    max_tokens: int | None


class OpenAICompatibleProvider:
    """Plays the customer through an OpenAI-compatible chat-completions endpoint.

    Safe to share between worker threads and greenlets: it keeps no per-reply state, and
    its httpx clients (pools of keep-alive connections, as many in all as the worker's
    model slots, shared/llm/http_clients.py) are thread-safe.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        request_timeout_seconds: float,
        total_timeout_seconds: float,
        max_retries: int,
        context_tokens: int,
        client: httpx.Client | None = None,
        backoff_base_seconds: float = BACKOFF_BASE_SECONDS,
        reply_retries: int | None = None,
        max_connections: int = 100,
        parameters: str = "auto",
        reasoning_allowance_tokens: int = 0,
        reasoning_effort: str = "",
        auth_header: str = "Authorization",
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the LLM base URL must start with http:// or https://")
        self._base_url = base_url.rstrip("/")
        self._shown_url = display_url(self._base_url)
        self._url = f"{self._base_url}/chat/completions"
        self._api_key = api_key
        self._auth_header = auth_header
        self._model = model
        self._parameters = parameters
        self._reasoning_allowance = reasoning_allowance_tokens
        self._reasoning_effort = reasoning_effort
        # Parameters each model has refused (a 400 naming them), left out from then on.
        self._refused: dict[str, frozenset[str]] = {}
        self._refused_lock = threading.Lock()
        self._request_timeout = request_timeout_seconds
        self._total_timeout = total_timeout_seconds
        self._max_retries = max(0, max_retries)
        self._reply_retries = self._max_retries if reply_retries is None else max(0, reply_retries)
        self._context_tokens = context_tokens
        self._backoff_base = backoff_base_seconds
        self._clients = (
            OneClient(client)
            if client is not None
            else HTTPClients(max_connections=max_connections, timeout_seconds=request_timeout_seconds)
        )

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAICompatibleProvider:
        return cls(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            request_timeout_seconds=settings.llm_request_timeout_seconds,
            total_timeout_seconds=settings.llm_total_timeout_seconds,
            max_retries=settings.llm_max_retries,
            # The worker owns a reply's retries: a failed call gives its slot back and the
            # job is scheduled again (honouring Retry-After), so a failing reply costs at
            # most CHATTRAIN_REPLY_MAX_ATTEMPTS model calls instead of that times these.
            reply_retries=0,
            context_tokens=settings.llm_context_tokens,
            max_connections=settings.llm_max_concurrent_requests,
            parameters=settings.llm_parameters,
            reasoning_allowance_tokens=settings.llm_reasoning_allowance_tokens,
            reasoning_effort=settings.llm_reasoning_effort,
            auth_header=settings.llm_auth_header,
        )

    def close(self) -> None:
        """Close the connection pool, if this provider created it."""
        self._clients.close()

    def stream_reply(self, request: ReplyRequest) -> ReplyStream:
        """Nothing is sent until the stream is iterated; errors surface there."""
        messages = build_messages(request, context_tokens=self._context_tokens, count_tokens=count_tokens)
        llm_config = getattr(request.scenario, "llm_config", None)
        call = _Call(
            fixed={
                "model": getattr(llm_config, "model", None) or self._model,
                "messages": messages,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            temperature=getattr(llm_config, "temperature", None),
            max_tokens=getattr(llm_config, "max_tokens", None),
        )
        usage = Usage(model=call.fixed["model"])
        return ReplyStream(chunks=self._stream_with_retries(call, usage, self._reply_retries), usage=usage)

    def complete_json(self, messages: list[dict[str, str]], *, max_tokens: int) -> tuple[str, Usage]:
        """A whole answer to `messages`, asked for as a JSON object (`response_format`),
        with the same retries, time budget and error codes as a reply. Used to grade a
        finished session, never to play the customer. Returns the text (unchecked: the
        caller validates it) and the usage."""
        call = _Call(
            fixed={
                "model": self._model,
                "messages": messages,
                "stream": True,
                "stream_options": {"include_usage": True},
                "response_format": {"type": "json_object"},
            },
            temperature=0,
            max_tokens=max_tokens,
        )
        usage = Usage(model=self._model)
        text = "".join(self._stream_with_retries(call, usage, self._max_retries))
        return text, usage

    def _body(self, call: _Call) -> dict[str, Any]:
        """The JSON body of `call` in its model's shape, less what that model refused."""
        model = call.fixed["model"]
        sampling = sampling_parameters(
            shape_for(model, self._parameters),
            temperature=call.temperature,
            max_tokens=call.max_tokens,
            reasoning_tokens=self._reasoning_allowance,
            reasoning_effort=self._reasoning_effort,
            rejected=self._refused.get(model, frozenset()),
        )
        return {**call.fixed, **sampling}

    def _learn_refusal(self, model: str, parameter: str) -> bool:
        """Remember that `model` refuses `parameter`; False when that was known already
        (the server refuses something else about it, so asking again would not help)."""
        with self._refused_lock:
            known = self._refused.get(model, frozenset())
            if parameter in known:
                return False
            self._refused[model] = known | {parameter}
        log.warning(
            "LLM model %r refused the parameter %r; it is sent without it from now on "
            "(CHATTRAIN_LLM_PARAMETERS picks the shape up front)",
            model,
            parameter,
        )
        return True

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self._api_key:  # local servers (Ollama, vLLM) often need none
            if self._auth_header.lower() == "authorization":
                headers["Authorization"] = f"Bearer {self._api_key}"
            else:  # Azure's `api-key`, a gateway's own header: the key as it is
                headers[self._auth_header] = self._api_key
        return headers

    def _scrubbed(self, error: LLMError) -> LLMError:
        """The same error with the API key blanked out of its message, should a server
        ever have echoed it into an identifier."""
        if not self._api_key or self._api_key not in error.message:
            return error
        return LLMError(
            error.code,
            error.message.replace(self._api_key, "***"),
            retryable=error.retryable,
            retry_after_seconds=error.retry_after_seconds,
        )

    def _stream_with_retries(self, call: _Call, usage: Usage, max_retries: int) -> Iterator[str]:
        deadline = time.monotonic() + self._total_timeout
        failure: LLMError | None = None
        attempts = retries = 0
        while True:
            if failure is not None:
                if retries >= max_retries:
                    break
                retries += 1
                delay = backoff_delay(retries, base_seconds=self._backoff_base, retry_after=failure.retry_after_seconds)
                if time.monotonic() + delay >= deadline:
                    break  # the wait alone would spend the budget
                time.sleep(delay)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            attempts += 1
            produced = False
            try:
                with contextlib.closing(
                    self._attempt(self._body(call), usage, deadline, min(self._request_timeout, remaining))
                ) as pieces:
                    for piece in pieces:
                        produced = True
                        yield piece
                return
            except ParameterRejected as error:
                if not self._learn_refusal(call.fixed["model"], error.parameter):
                    raise self._scrubbed(error) from error
                # Asked again at once, reshaped: not one of the retries, since nothing failed
                # that waiting cures, and bounded by the few parameters a model may refuse.
                failure = None
            except LLMError as error:
                if produced:
                    raise self._scrubbed(
                        LLMError(
                            "llm_stream_interrupted",
                            f"the reply broke off part-way: {error.message}",
                            retryable=True,
                        )
                    ) from error
                if error.code not in RETRIED_CODES:
                    raise self._scrubbed(error) from error
                failure = error
        raise self._scrubbed(self._gave_up(failure, attempts))

    def _gave_up(self, failure: LLMError | None, attempts: int) -> LLMError:
        if failure is None:
            return LLMError(
                "llm_timeout", f"the total time budget of {self._total_timeout:g}s was spent", retryable=True
            )
        return LLMError(
            failure.code,
            f"{failure.message} (gave up after {attempts} attempt(s))",
            retryable=True,
            retry_after_seconds=failure.retry_after_seconds,
        )

    def _attempt(self, body: dict[str, Any], usage: Usage, deadline: float, timeout: float) -> Iterator[str]:
        """One request: yields the reply's text, raises LLMError on any failure."""
        try:
            with (
                self._clients.one() as client,
                client.stream(
                    "POST", self._url, content=orjson.dumps(body), headers=self._headers(), timeout=timeout
                ) as response,
            ):
                if not 200 <= response.status_code < 300:
                    response.read()
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    error = error_for_status(
                        response.status_code,
                        response.content,
                        retry_after,
                        where=self._shown_url,
                        model=body["model"],
                    )
                    if error.code == "llm_model_not_found":
                        log.error(
                            "LLM model not found: model=%r base_url=%s status=%s",
                            body["model"],
                            self._shown_url,
                            response.status_code,
                        )
                    raise error
                content_type = response.headers.get("content-type", "")
                if "event-stream" in content_type:
                    yield from self._read_event_stream(response, body, usage, deadline)
                elif "json" in content_type:
                    # Some servers ignore "stream": true and answer in one piece.
                    yield from self._read_whole_reply(response, body, usage)
                else:
                    raise _malformed(f"unexpected content type {content_type.split(';')[0]!r}")
        except httpx.TimeoutException as exc:
            raise LLMError(
                "llm_timeout",
                f"the LLM server at {self._shown_url} did not answer within {timeout:.1f}s",
                retryable=True,
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise LLMError(
                "llm_bad_request", "unsupported protocol in CHATTRAIN_LLM_BASE_URL", retryable=False
            ) from exc
        except httpx.TransportError as exc:  # refused, reset, or a body cut off mid-way
            raise LLMError(
                "llm_unavailable",
                f"connection to the LLM server at {self._shown_url} failed ({type(exc).__name__})",
                retryable=True,
            ) from exc
        except httpx.DecodingError as exc:
            raise _malformed("the body could not be decoded") from exc

    def _read_event_stream(
        self, response: httpx.Response, body: dict[str, Any], usage: Usage, deadline: float
    ) -> Iterator[str]:
        text: list[str] = []
        reported: dict[str, Any] = {}
        finish_reason: str | None = None
        done = False
        events = iter_sse_data(self._lines_until(deadline, response.iter_lines()))
        for data in events:
            if data.strip() == "[DONE]":
                done = True
                break
            try:
                chunk = orjson.loads(data)
            except ValueError:
                raise _malformed("an event's data is not valid JSON") from None
            if isinstance(chunk, dict) and chunk.get("error"):
                raise LLMError(
                    "llm_unavailable",
                    f"the LLM server reported an error mid-stream{_server_identifiers(chunk)}",
                    retryable=True,
                )
            for choice in _choices(chunk):
                piece = _text_of(choice.get("delta"))
                if piece:
                    text.append(piece)
                    yield piece
                finish_reason = choice.get("finish_reason") or finish_reason
            if isinstance(chunk.get("usage"), dict):
                reported = {**chunk["usage"], "model": chunk.get("model")}
        if done:
            # Read the body to its end so the connection goes back to the pool; the reply
            # is complete, so a failure here no longer matters.
            with contextlib.suppress(httpx.HTTPError, LLMError):
                for _ in events:
                    pass
        elif finish_reason is None:
            raise LLMError(
                "llm_unavailable",
                "the LLM server ended the stream before the reply was complete",
                retryable=True,
            )
        self._settle(usage, reported, body, "".join(text), finish_reason)

    def _lines_until(self, deadline: float, lines: Iterator[str]) -> Iterator[str]:
        """The body's lines, cut off at the total time budget: the read timeout alone
        never fires on a server that trickles keep-alive comments or slow text."""
        for line in lines:
            if time.monotonic() > deadline:
                raise LLMError(
                    "llm_timeout",
                    f"the reply took longer than the total budget of {self._total_timeout:g}s",
                    retryable=True,
                )
            yield line

    def _read_whole_reply(self, response: httpx.Response, body: dict[str, Any], usage: Usage) -> Iterator[str]:
        response.read()
        try:
            completion = response.json()
        except ValueError:
            raise _malformed("the body is not valid JSON") from None
        choices = _choices(completion)
        reply = _text_of(choices[0].get("message")) if choices else ""
        finish_reason = choices[0].get("finish_reason") if choices else None
        reported = (
            {**completion["usage"], "model": completion.get("model")}
            if isinstance(completion.get("usage"), dict)
            else {}
        )
        if reply:
            yield reply
        self._settle(usage, reported, body, reply, finish_reason)

    @staticmethod
    def _settle(
        usage: Usage, reported: dict[str, Any], body: dict[str, Any], reply: str, finish_reason: str | None
    ) -> None:
        """Fill `usage` (the server's figures, else our estimate), then insist on text."""
        if isinstance(reported.get("prompt_tokens"), int) and isinstance(reported.get("completion_tokens"), int):
            usage.prompt_tokens = reported["prompt_tokens"]
            usage.completion_tokens = reported["completion_tokens"]
        else:
            usage.prompt_tokens = REPLY_PRIMING_TOKENS + sum(
                count_tokens(message["content"]) + MESSAGE_OVERHEAD_TOKENS for message in body["messages"]
            )
            usage.completion_tokens = count_tokens(reply)
        model = reported.get("model")
        usage.model = model if isinstance(model, str) and model else body["model"]
        if not reply:
            reason = finish_reason if isinstance(finish_reason, str) and _IDENTIFIER.match(finish_reason) else "unknown"
            raise LLMError(
                "llm_empty_reply",
                f"the LLM produced no text (finish_reason={reason})",
                retryable=finish_reason != "content_filter",
            )
