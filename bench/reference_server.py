"""An in-process streaming reference for the chat benchmark: the least a server can do to
answer the load generator (bench/trainees.py), to set our stack's figures against.

One process, one Quart app on Hypercorn, our schema in SQLite, and the subset of our
protocol the trainees speak (docs/protocol.md): `POST /api/sessions`, and on `WS
/chat/<id>` `session_start`, `ping` and `user_message`. A trainee's message is stored in one
short transaction and acknowledged; then, on the event loop, the reply is played by our
mock's own pure functions (shared/llm/mock.py, so replies have the same text and length),
paced with `asyncio.sleep`, and streamed straight to the socket as `assistant_delta`
frames at most every batch interval; once it is whole it is stored once (its message and
one `reply_jobs` row carrying the stamps bench/database.py reads), and `assistant_message`
follows. No queue, no worker, no events table, no judge's feedback, no masking, no
`typing` frame, no limits: a yardstick, not a product.

    python -m bench.reference_server --port 8100 --data-dir /tmp/ref
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, request, websocket
from sqlalchemy import Connection, event

from shared.conversation.frames import (
    SentText,
    ack_frame,
    assistant_delta_event,
    assistant_message_event,
    event_text,
    pong_frame,
    session_start_frame,
)
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.events import StoredEvent
from shared.db.jsoncol import dumps
from shared.db.migrate import upgrade_to_head
from shared.db.schema import reply_jobs
from shared.db.users import select_user_by_token
from shared.llm.base import ChatTurn
from shared.llm.mock import estimate_tokens, scripted_reply, split_into_chunks
from shared.scenarios.catalog import ScenarioCatalog, upsert_catalog
from web.ws_compression import disable_permessage_deflate

T = TypeVar("T")

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"  # the bench's long-practice
SUBPROTOCOL = "chattrain.v1"
BEARER_PREFIX = "bearer."
BATCH_SECONDS = 0.1  # our CHATTRAIN_STREAM_BATCH_MS default: a delta at most every 100 ms


@dataclass(frozen=True)
class MockPacing:
    """The mock's pacing (CHATTRAIN_MOCK_LLM_*): zero, the guards' unpaced model."""

    first_chunk_ms: float = 0.0
    chunks_per_second: float = 0.0
    chunk_chars: int = 12

    async def before_chunk(self, index: int) -> None:
        if index == 0:
            if self.first_chunk_ms > 0:
                await asyncio.sleep(self.first_chunk_ms / 1000)
        elif self.chunks_per_second > 0:
            await asyncio.sleep(1 / self.chunks_per_second)


class ReferenceDatabase:
    """Every transaction on one thread with one connection, so a commit (or a checkpoint
    inside one) never stalls the event loop, and no two of ours ever wait on each other."""

    def __init__(self, url: str):
        self.engine = create_sync_engine(url, pool_size=1)
        # Our engine leaves checkpoints to a background thread of our own
        # (shared/db/checkpoint.py); here SQLite's default does it, on this thread.
        event.listen(self.engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA wal_autocheckpoint=1000"))
        self._writes = self.engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="reference-db")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` in one write transaction (BEGIN IMMEDIATE: other processes,
        the bench's user inserts, may write too)."""

        def transaction() -> T:
            with self._writes.begin() as conn:
                return fn(conn, *args)

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)


# --- the data functions: our own, in the transactions this server needs --------------------


def insert_session_with_opening(conn: Connection, scenario_id: int, user_id: str, opening: str | None) -> int:
    """A session and its opening line (a customer turn: the mock's script counts it)."""
    session = session_rows.insert_session(conn, scenario_id=scenario_id, user_id=user_id)
    if opening:
        message_rows.insert_message(conn, session_id=session["id"], role="assistant", content=opening)
    return session["id"]


def select_socket_session(conn: Connection, token: str, session_id: int) -> dict | None:
    """The session, if the token's user owns it."""
    user = select_user_by_token(conn, token)
    session = session_rows.select_session(conn, session_id) if user else None
    return session if session and session["user_id"] == user["id"] else None


def insert_trainee_message(
    conn: Connection, session_id: int, content: str, client_message_id: str | None
) -> tuple[int, int]:
    """Store the message; returns its id and the customer turns before it."""
    message = message_rows.insert_message(
        conn, session_id=session_id, role="user", content=content, client_message_id=client_message_id
    )
    return message["id"], message_rows.count_assistant_messages_before(conn, session_id, message["id"])


@dataclass
class Stamps:
    """Epoch seconds, as the worker stamps its reply job (shared/db/schema.py reply_jobs)."""

    enqueued_at: float
    requested_at: float = 0.0
    first_chunk_at: float = 0.0
    last_chunk_at: float = 0.0


def insert_reply(conn: Connection, session_id: int, reply_to: int, text: str, stamps: Stamps) -> dict:
    """The reply's message and its answered job, written once."""
    tokens = estimate_tokens(text)
    message = message_rows.insert_message(
        conn,
        session_id=session_id,
        role="assistant",
        content=text,
        reply_to=reply_to,
        metadata={"tokens": tokens, "reply_to": reply_to},
    )
    conn.execute(
        reply_jobs.insert().values(
            message_id=reply_to,
            session_id=session_id,
            status="done",
            attempts=1,
            enqueued_at=stamps.enqueued_at,
            expires_at=stamps.enqueued_at,
            model_requested_at=stamps.requested_at,
            model_first_chunk_at=stamps.first_chunk_at,
            model_last_chunk_at=stamps.last_chunk_at,
        )
    )
    return {**message, "tokens": tokens}


# --- the app --------------------------------------------------------------------------------


def create_app(database_url: str, pacing: MockPacing, scenarios_dir: Path = SCENARIOS_DIR) -> Quart:
    app = Quart(__name__)
    catalog = ScenarioCatalog.from_folder(scenarios_dir)

    @app.before_serving
    async def start() -> None:
        upgrade_to_head(database_url)
        app.db = ReferenceDatabase(database_url)
        await app.db.run(upsert_catalog, catalog)

    @app.post("/api/sessions")
    async def post_session() -> tuple[dict, int]:
        """Start a session for the token's user."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = await app.db.run(select_user_by_token, token) if scheme.lower() == "bearer" else None
        if user is None:
            return {"code": "unauthorized"}, 401
        data = await request.get_json()
        found = catalog.get(data.get("scenario_id", ""))
        if found is None:
            return {"code": "scenario_not_found"}, 404
        if data.get("user_id") not in (None, user["id"]):
            return {"code": "user_mismatch"}, 403
        scenario_id, scenario = found
        session_id = await app.db.run(insert_session_with_opening, scenario_id, user["id"], scenario.opening_line)
        return {"id": session_id, "session_id": session_id}, 201

    @app.websocket("/chat/<int:session_id>")
    async def chat_socket(session_id: int) -> None:
        """The chat socket: the trainees' subset of our protocol."""
        offered = websocket.requested_subprotocols
        token = next((p[len(BEARER_PREFIX) :] for p in offered if p.startswith(BEARER_PREFIX)), "")
        session = await app.db.run(select_socket_session, token, session_id)
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        if session is None or session["scenario_id"] not in catalog.by_id:
            await websocket.close(4404, "session not found")
            return
        chat = ReferenceChat(app.db, session_id, catalog.by_id[session["scenario_id"]], pacing, websocket.send)
        try:
            while True:
                await chat.handle(json.loads(await websocket.receive()))
        finally:
            for task in chat.replies:
                task.cancel()

    return app


class ReferenceChat:
    """One socket: answers its frames and streams each reply straight to it."""

    def __init__(self, db: ReferenceDatabase, session_id: int, scenario, pacing: MockPacing, send) -> None:  # noqa: ANN001
        self.db, self.session_id, self.scenario, self.pacing, self.send = db, session_id, scenario, pacing, send
        self.last_event_id = 0  # this socket's numbering of the frames that are events in ours
        self.replies: set[asyncio.Task] = set()

    async def handle(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "session_start":
            await self.send(session_start_frame(self.session_id, self.last_event_id, self.scenario.public_view()))
        elif kind == "ping":
            await self.send(pong_frame())
        elif kind == "user_message":
            enqueued = time.time()
            client_id = (frame.get("metadata") or {}).get("client_message_id")
            content = frame.get("content", "")
            message_id, turns = await self.db.run(insert_trainee_message, self.session_id, content, client_id)
            await self.send(ack_frame(message_id, client_id, False))
            task = asyncio.create_task(self.reply(message_id, content, turns, Stamps(enqueued)))
            self.replies.add(task)
            task.add_done_callback(self.replies.discard)

    async def send_event(self, frame: tuple[str, dict]) -> None:
        """An event of ours, framed byte for byte as our tailer frames it."""
        self.last_event_id += 1
        type, payload = frame
        await self.send(event_text(StoredEvent(0, self.session_id, type, dumps(payload), self.last_event_id)))

    async def send_delta(self, message_id: int, sent: SentText, generated: str) -> SentText:
        """The delta from what was `sent` to `generated`, if there is anything new."""
        delta = assistant_delta_event(message_id, sent, generated)
        if delta is None:
            return sent
        await self.send_event(delta)
        return SentText(generated, sent.next_seq + 1)

    async def reply(self, message_id: int, content: str, turns: int, stamps: Stamps) -> None:
        stamps.requested_at = time.time()
        text = scripted_reply(self.scenario, [ChatTurn("user", content)], turns)
        generated, sent, last_flush = "", SentText(), time.monotonic()
        for index, chunk in enumerate(split_into_chunks(text, self.pacing.chunk_chars)):
            await self.pacing.before_chunk(index)
            stamps.last_chunk_at = time.time()
            stamps.first_chunk_at = stamps.first_chunk_at or stamps.last_chunk_at
            generated += chunk
            if time.monotonic() - last_flush >= BATCH_SECONDS:
                sent = await self.send_delta(message_id, sent, generated)
                last_flush = time.monotonic()
        if sent.next_seq:  # the deltas alone add up to the reply, as ours do
            await self.send_delta(message_id, sent, generated)
        stored = await self.db.run(insert_reply, self.session_id, message_id, generated, stamps)
        await self.send_event(
            assistant_message_event(
                message_id=stored["id"],
                content=generated,
                timestamp=stored["timestamp"],
                reply_to=message_id,
                tokens=stored["tokens"],
            )
        )


def hypercorn_config(port: int) -> Config:
    """Our web process's Hypercorn settings (web/hypercorn_config.py), on loopback."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.websocket_max_message_size = 1024 * 1024
    config.websocket_ping_interval = 20.0
    config.accesslog = None
    config.graceful_timeout = 1
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="the database is D/chattrain.db")
    parser.add_argument("--first-chunk-ms", type=float, default=0.0)
    parser.add_argument("--chunks-per-second", type=float, default=0.0)
    parser.add_argument("--chunk-chars", type=int, default=12)
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(args.data_dir / 'chattrain.db').resolve()}"
    app = create_app(url, MockPacing(args.first_chunk_ms, args.chunks_per_second, args.chunk_chars))
    disable_permessage_deflate()  # our default (CHATTRAIN_WS_COMPRESSION off)
    try:
        import uvloop  # our web process serves on uvloop (web/hypercorn_config.py)
    except ImportError:
        asyncio.run(serve(app, hypercorn_config(args.port)))
    else:
        uvloop.run(serve(app, hypercorn_config(args.port)))


if __name__ == "__main__":
    main()
