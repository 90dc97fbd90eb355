"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

In a test:   with FakeOpenAIServer(reply="Hi there") as server: ... server.base_url ...
Standalone:  python -m tests.fakes.fake_openai --port 8765   (prints its base URL)

It streams the configured reply as SSE chunks with a usage chunk at the end, records
every request (in-process: `server.requests`; from outside: GET /_requests), and
misbehaves on demand for the next request(s) (in-process: `server.queue(...)`; from
outside: POST /_control {"queue": [{"count": 2, "status": 429, "retry_after": "1"}]}).
Queue entries take the fields of `Behaviour`; each is used by one request, in order.
/_control also takes "reply", "chunk_chars" and "reset": true (forget requests and queue),
and "json_answer" with "json_hang_seconds": what a request asking for a JSON object
(`response_format`, as grading and judging do) is answered with, after that long, instead
of the reply and the queue (null: like any request).

Like the real servers, it refuses what they refuse, before any queued behaviour:
- a model named like one of OpenAI's reasoning models (o1, o3-mini, o4-mini, gpt-5...)
  sent `max_tokens`, or a `temperature`/`top_p` other than 1, gets OpenAI's 400
  (`unsupported_parameter` / `unsupported_value`, naming the parameter in `param`);
- with `models` set (`FakeOpenAIServer(models=[...])`, or "models" in /_control), any
  other model gets Ollama's 404 (`model "x" not found, try pulling it first`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_REPLY = "Hello, I have a problem with my order and I would like it sorted out today."

# Written apart from shared/llm/parameters.py on purpose: the fake stands for OpenAI's API,
# so a mistake in the provider's own detection shows as a 400 here.
_REASONING_MODEL = re.compile(r"^(o[1-9]|gpt-5)", re.IGNORECASE)


@dataclass
class Behaviour:
    """How to answer one request; the defaults give a normal streamed reply."""

    status: int | None = None  # answer with this HTTP error status and a JSON error body
    retry_after: str | None = None  # Retry-After header sent with `status`
    error_message: str = "fake failure"  # message inside the JSON error body
    hang_seconds: float | None = None  # wait this long before answering at all
    malformed: bool = False  # stream an event whose data is not valid JSON
    cut_after_chunks: int | None = None  # drop the connection after this many content chunks
    chunk_delay_seconds: float = 0.0  # pause before each content chunk (a slow model)
    stall_after_chunks: int | None = None  # after this many content chunks, pause `stall_seconds`
    stall_seconds: float = 0.0
    json_reply: bool = False  # whole JSON completion even though a stream was asked for
    no_usage: bool = False  # leave out the final usage chunk


def refusal(body: dict[str, Any], models: tuple[str, ...] | None) -> tuple[int, dict[str, Any]] | None:
    """The (status, error body) a real server would answer `body` with, if any."""
    model = str(body.get("model", ""))
    if models is not None and model not in models:
        return 404, {
            "error": {
                "message": f'model "{model}" not found, try pulling it first',
                "type": "not_found_error",
                "param": None,
                "code": None,
            }
        }
    if not _REASONING_MODEL.match(model.rsplit("/", 1)[-1]):
        return None
    if "max_tokens" in body:
        message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'"
        return 400, _openai_error(message + " instead.", "max_tokens", "unsupported_parameter")
    for name in ("temperature", "top_p"):
        if name in body and body[name] != 1:
            message = f"Unsupported value: '{name}' does not support {body[name]} with this model."
            return 400, _openai_error(message + " Only the default (1) value is supported.", name, "unsupported_value")
    return None


def _openai_error(message: str, param: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def count_words(messages: list[dict[str, Any]]) -> int:
    """The fake's 'prompt_tokens': words across all message contents."""
    return sum(len(str(message.get("content", "")).split()) for message in messages)


class _State:
    """Everything the handler threads share, behind one lock."""

    def __init__(self, reply: str, chunk_chars: int, models: tuple[str, ...] | None = None):
        self.models = models
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # wakes hanging handlers when the server stops
        self.reply, self.chunk_chars = reply, chunk_chars
        self.json_answer: str | None = None
        self.json_hang_seconds = 0.0
        self.behaviours: list[Behaviour] = []
        self.requests: list[dict[str, Any]] = []

    def apply_control(self, control: dict[str, Any]) -> None:
        known = {field.name for field in fields(Behaviour)}
        with self.lock:
            if control.get("reset"):
                self.behaviours.clear()
                self.requests.clear()
                self.json_answer, self.json_hang_seconds = None, 0.0
            if "json_answer" in control:
                self.json_answer = control["json_answer"]
                self.json_hang_seconds = float(control.get("json_hang_seconds") or 0.0)
            if "models" in control:
                self.models = None if control["models"] is None else tuple(control["models"])
            self.reply = control.get("reply", self.reply)
            self.chunk_chars = int(control.get("chunk_chars", self.chunk_chars))
            for entry in control.get("queue", []):
                behaviour = Behaviour(**{k: v for k, v in entry.items() if k in known})
                self.behaviours.extend([behaviour] * int(entry.get("count", 1)))

    def take(self, record: dict[str, Any]) -> tuple[Behaviour, str, int]:
        with self.lock:
            self.requests.append(record)
            body = record["body"] if isinstance(record["body"], dict) else {}
            if self.json_answer is not None and body.get("response_format"):
                return Behaviour(hang_seconds=self.json_hang_seconds or None), self.json_answer, self.chunk_chars
            behaviour = self.behaviours.pop(0) if self.behaviours else Behaviour()
            return behaviour, self.reply, self.chunk_chars


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like real servers
    state: _State  # set on a per-server subclass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # keep test output clean

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _write_event(self, data: str) -> None:
        """One SSE event as one HTTP chunk."""
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path == "/_requests":  # also a readiness probe for the standalone mode
            with self.state.lock:
                self._send_json(200, list(self.state.requests))
        else:
            self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if self.path == "/_control":
            self.state.apply_control(json.loads(raw or b"{}"))
            self._send_json(200, {"ok": True})
            return
        if not self.path.endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        # received_at: this process's monotonic clock; client_port tells connections apart.
        record = {
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body,
            "received_at": time.monotonic(),
            "client_port": self.client_address[1],
        }
        with self.state.lock:
            models = self.state.models
        refused = refusal(body, models) if isinstance(body, dict) else None
        if refused is not None:
            with self.state.lock:
                self.state.requests.append(record)
            self._send_json(*refused)
            return
        behaviour, reply, chunk_chars = self.state.take(record)
        try:
            self._answer(behaviour, body if isinstance(body, dict) else {}, reply, chunk_chars)
        except ConnectionError:
            pass  # the client gave up (timed out); nothing to tell it

    def _answer(self, behaviour: Behaviour, body: dict[str, Any], reply: str, chunk_chars: int) -> None:
        if behaviour.hang_seconds:
            self.state.stopping.wait(behaviour.hang_seconds)
        if behaviour.status:
            headers = {"Retry-After": str(behaviour.retry_after)} if behaviour.retry_after is not None else {}
            error = {"message": behaviour.error_message, "type": "fake_error", "code": str(behaviour.status)}
            self._send_json(behaviour.status, {"error": error}, headers)
            return
        model = body.get("model", "fake-model")
        usage = {
            "prompt_tokens": count_words(body.get("messages", [])),
            "completion_tokens": len(reply.split()),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": model}
        if behaviour.json_reply or not body.get("stream"):
            message = {"role": "assistant", "content": reply}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._send_json(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
            return

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return json.dumps({**base, "object": "chat.completion.chunk", "choices": [choice]})

        self._write_event(chunk({"role": "assistant", "content": ""}))
        if behaviour.malformed:
            self._write_event('{"choices": [{"delta": {"content": "unterminated')
        else:
            pieces = [reply[i : i + chunk_chars] for i in range(0, len(reply), chunk_chars)]
            for sent, piece in enumerate(pieces):
                if behaviour.cut_after_chunks is not None and sent >= behaviour.cut_after_chunks:
                    self.close_connection = True  # no closing chunk: the client sees a broken body
                    return
                self.state.stopping.wait(behaviour.chunk_delay_seconds)
                if sent == behaviour.stall_after_chunks:
                    self.state.stopping.wait(behaviour.stall_seconds)
                self._write_event(chunk({"content": piece}))
            self._write_event(chunk({}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage") and not behaviour.no_usage:
                self._write_event(
                    json.dumps({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
                )
        self._write_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up early is normal here (timeouts, cut streams): no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """The fake server in a background thread; a context manager, also usable with
    start()/stop(). `port=0` picks a free port."""

    def __init__(
        self, *, reply: str = DEFAULT_REPLY, chunk_chars: int = 8, port: int = 0, models: list[str] | None = None
    ):
        self._state = _State(reply, chunk_chars, None if models is None else tuple(models))
        handler = type("FakeOpenAIHandler", (_Handler,), {"state": self._state})
        self._httpd = _QuietServer(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every chat-completions request so far: path, headers, body (parsed JSON),
        received_at and client_port."""
        with self._state.lock:
            return list(self._state.requests)

    def queue(self, count: int = 1, **behaviour: Any) -> None:
        """Make the next `count` requests behave as `Behaviour(**behaviour)` says."""
        self._state.apply_control({"queue": [{"count": count, **asdict(Behaviour(**behaviour))}]})

    def set_reply(self, reply: str, *, chunk_chars: int | None = None) -> None:
        self._state.apply_control({"reply": reply, "chunk_chars": chunk_chars or self._state.chunk_chars})

    def set_models(self, models: list[str] | None) -> None:
        """Serve only these models (others get Ollama's 404); None: any model."""
        self._state.apply_control({"models": models})

    def start(self) -> FakeOpenAIServer:
        # A short poll interval keeps stop() quick (shutdown waits for the next poll).
        serve = lambda: self._httpd.serve_forever(poll_interval=0.05)  # noqa: E731
        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the standalone mode)."""
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._state.stopping.set()
            self._httpd.server_close()

    def stop(self) -> None:
        self._state.stopping.set()
        if self._thread:
            self._httpd.shutdown()  # only returns once serve_forever has been running
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    parser.add_argument("--chunk-chars", type=int, default=8)
    args = parser.parse_args()
    server = FakeOpenAIServer(reply=args.reply, chunk_chars=args.chunk_chars, port=args.port)
    print(f"fake-openai listening on {server.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
