"""A paced fake of an OpenAI-compatible chat-completions server, for the benchmark's
`openai` rows: one asyncio process speaking HTTP/1.1 with keep-alive, so it holds
thousands of slow streams for a few KiB each.

    python -m bench.fake_llm --port 8765 --first-chunk-ms 800 --chunks-per-second 25

Every POST .../chat/completions answers 200 at once with `text/event-stream`, waits
`--first-chunk-ms`, then streams its reply in chunks of about `--chunk-chars` characters,
`--chunks-per-second` of them, then a `finish_reason` chunk, the usage chunk (when the
request asks for it with stream_options.include_usage) and `data: [DONE]`. A request
whose last user message contains `--stall-marker` waits `--stall-ms` more before its
first chunk (a model that stalls for some trainees). GET /_stats answers its counters:
requests, streams open now and at most, stalled ones, completed ones.

Pacing is absolute from the request's arrival (chunk k is due at first + k / rate), so a
busy loop does not stretch a reply. The replies are customer lines as long as the paced
mock's (about 140 characters: 0.8 s + 13 chunks / 25 per second, about 1.3 s); each
request takes the next one in turn. Encoded chunks are built once per line and model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

REPLIES = (
    "Sorry, but you skipped right past what I asked. What is going on? I'm not happy here. "
    "Fine. The email on the account is on my invoice.",
    "That's not really what I needed. Nothing arrives when I reset my password. Okay, I'm "
    "looking at my inbox. Still nothing. Do I just wait?",
    "You still haven't answered me, and honestly I'm not happy. Do I just wait? Found it. "
    "Now what about the double charge, then?",
    "Hang on, I'm not happy and that didn't really answer me. Again: what about the double "
    "charge? Will I get something in writing?",
    "Sorry, but you skipped right past what I asked. Will I get something in writing? I'm "
    "not happy here. Anything else?",
)
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


@dataclass(frozen=True)
class Pacing:
    first_chunk_ms: float = 800.0
    chunks_per_second: float = 25.0
    chunk_chars: int = 12
    stall_ms: float = 0.0
    stall_marker: str = ""

    def pace_arguments(self) -> list[str]:
        """The pace on a command line, as this server and bench/reference_server.py read it."""
        return [
            "--first-chunk-ms",
            f"{self.first_chunk_ms:g}",
            "--chunks-per-second",
            f"{self.chunks_per_second:g}",
            "--chunk-chars",
            str(self.chunk_chars),
        ]


def split_chunks(text: str, size: int) -> list[str]:
    """Pieces of about `size` characters, cut between words; they join back to `text`."""
    pieces: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        if current and len(current) + len(word) > size:
            pieces.append(current)
            current = ""
        current += word
    return [*pieces, current] if current else pieces


def http_chunk(data: bytes) -> bytes:
    """One SSE event (`data: ...` and a blank line) as one HTTP/1.1 chunk."""
    event = b"data: " + data + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


class EncodedReply:
    """A reply's events, encoded once: the content chunks (the first with the role),
    then the finish chunk; the usage chunk is the only one made per request."""

    def __init__(self, text: str, model: str, chunk_chars: int):
        self.base = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        pieces = split_chunks(text, chunk_chars)
        self.completion_tokens = len(text.split())
        self.chunks = [
            http_chunk(self._event({"role": "assistant", "content": piece} if i == 0 else {"content": piece}))
            for i, piece in enumerate(pieces)
        ]
        self.finish = http_chunk(self._event({}, "stop"))

    def _event(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return json.dumps({**self.base, "choices": [choice]}, separators=(",", ":")).encode()

    def usage(self, prompt_tokens: int) -> bytes:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": prompt_tokens + self.completion_tokens,
        }
        return http_chunk(json.dumps({**self.base, "choices": [], "usage": usage}, separators=(",", ":")).encode())


class FakeLLM:
    def __init__(self, pacing: Pacing):
        self.pacing = pacing
        self.replies: dict[str, list[EncodedReply]] = {}
        self.stats = {"requests": 0, "open": 0, "peak_open": 0, "stalled": 0, "completed": 0, "broken": 0}

    def encoded(self, model: str, turn: int) -> EncodedReply:
        replies = self.replies.get(model)
        if replies is None:
            replies = self.replies[model] = [EncodedReply(text, model, self.pacing.chunk_chars) for text in REPLIES]
        return replies[turn % len(replies)]

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = (request_line.split(" ") + ["", ""])[:3]
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "POST" and path.endswith("/chat/completions"):
                    await self.stream(writer, body)
                elif method == "GET" and path == "/_stats":
                    self.send_json(writer, 200, self.stats)
                else:
                    self.send_json(writer, 404, {"error": {"message": "not found", "type": "not_found"}})
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.stats["broken"] += 1
        finally:
            writer.close()

    @staticmethod
    def send_json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        writer.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason.encode(), len(data), data)
        )

    async def stream(self, writer: asyncio.StreamWriter, raw: bytes) -> None:
        arrived = time.monotonic()
        try:
            body = json.loads(raw)
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            self.send_json(writer, 400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
            return
        stats, pacing = self.stats, self.pacing
        stats["requests"] += 1
        reply = self.encoded(str(body.get("model") or "bench-model"), stats["requests"])
        last_user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
        first = pacing.first_chunk_ms / 1000
        if pacing.stall_ms and pacing.stall_marker and pacing.stall_marker in last_user:
            first += pacing.stall_ms / 1000
            stats["stalled"] += 1
        stats["open"] += 1
        stats["peak_open"] = max(stats["peak_open"], stats["open"])
        try:
            writer.write(_STREAM_HEAD)
            interval = 1 / pacing.chunks_per_second if pacing.chunks_per_second > 0 else 0.0
            for k, chunk in enumerate(reply.chunks):
                delay = arrived + first + k * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if writer.is_closing():
                    stats["broken"] += 1
                    return
                writer.write(chunk)
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
            tail = reply.finish
            if (body.get("stream_options") or {}).get("include_usage"):
                tail += reply.usage(prompt_tokens)
            writer.write(tail + http_chunk(b"[DONE]") + b"0\r\n\r\n")
            stats["completed"] += 1
        finally:
            stats["open"] -= 1


async def serve(port: int, pacing: Pacing) -> None:
    fake = FakeLLM(pacing)
    server = await asyncio.start_server(fake.serve_connection, "127.0.0.1", port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"fake-llm listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--first-chunk-ms", type=float, default=800.0)
    parser.add_argument("--chunks-per-second", type=float, default=25.0)
    parser.add_argument("--chunk-chars", type=int, default=12)
    parser.add_argument("--stall-ms", type=float, default=0.0)
    parser.add_argument("--stall-marker", default="")
    args = parser.parse_args(argv)
    pacing = Pacing(args.first_chunk_ms, args.chunks_per_second, args.chunk_chars, args.stall_ms, args.stall_marker)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, pacing))
    else:
        uvloop.run(serve(args.port, pacing))


if __name__ == "__main__":
    main()
