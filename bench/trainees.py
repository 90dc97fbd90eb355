"""The load generator: benchmark users and their sessions, `Trainee` (one socket on one
session, speaking the public protocol, timing each reply and noting when each of its
frames arrived), and the closed and Poisson loops that drive trainees."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from bench.settings import REPLY_TIMEOUT_SECONDS, SCENARIO, TRAINEE_LINES
from tests.support.stack import Stack


def _reference(session_id: int, message_number: int) -> str:
    """A word that makes every message of a run its own text, as real trainees' are: the
    judge keeps its recent judgements (shared/training/judge.py), and five lines sent
    over and over would be judged once each. Letters, not digits, which masking reads."""
    number, letters = session_id * 10_000 + message_number, ""
    while number:
        number, digit = divmod(number, 26)
        letters += chr(ord("a") + digit)
    return f"(ref {letters})"


# --- users and sessions: the only code that knows how a trainee gets in ---------------


@dataclass(frozen=True)
class BenchUser:
    user_id: str
    token: str

    def http_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def socket_options(self) -> dict[str, Any]:
        return {"subprotocols": ["chattrain.v1", f"bearer.{self.token}"]}


async def prepare_users(stack: Stack, n: int, prefix: str = "trainee") -> list[BenchUser]:
    """Make `n` trainees that may chat on `stack` (after start: the web process migrated
    its database), in one transaction, and return them with their tokens."""
    ids = [f"bench-{prefix}-{i}" for i in range(n)]
    return [
        BenchUser(u, token) for u, token in zip(ids, await asyncio.to_thread(_insert_trainees, stack, ids), strict=True)
    ]


def _insert_trainees(stack: Stack, ids: list[str]) -> list[str]:
    from shared.db.engine import BEGIN_MODE, create_sync_engine
    from shared.db.users import insert_user

    engine = create_sync_engine(stack.database_url)
    try:
        with engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}).begin() as conn:
            return [insert_user(conn, user_id=user_id, role="trainee") for user_id in ids]
    finally:
        engine.dispose()


async def create_sessions(stack: Stack, users: list[BenchUser]) -> list[int]:
    """One session per user, over HTTP, a few requests at a time."""
    limit = asyncio.Semaphore(16)

    async def one(http: httpx.AsyncClient, user: BenchUser) -> int:
        async with limit:
            response = await http.post(
                "/api/sessions", json={"scenario_id": SCENARIO, "user_id": user.user_id}, headers=user.http_headers()
            )
        response.raise_for_status()
        return response.json()["id"]

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        return list(await asyncio.gather(*(one(http, user) for user in users)))


# --- the load generator ----------------------------------------------------------------


class Trainee:
    """One socket on one session: sends user_messages and times their replies. Round trips
    are timed on the monotonic clock; arrivals are also noted on the wall clock
    (time.time()), to set against the worker's stamps in reply_jobs. `marker`, when set, is
    added to every message (case r3: the fake model stalls on it)."""

    def __init__(self, user: BenchUser, session_id: int, marker: str | None = None):
        self.user = user
        self.session_id = session_id
        self.marker = marker
        self.session_ids = [session_id]
        self.ws: websockets.ClientConnection | None = None
        self.compression: str | None = "deflate"
        self.sent = 0  # user_messages sent, less those refused because the session had ended
        self.rejected = 0
        self.completed = False  # the server said the session has ended
        self._next_id = 0
        self.acked: list[int] = []
        self.latencies: list[float] = []  # seconds, send -> assistant_message
        self.replies: Counter[int] = Counter()  # assistant_message frames per reply_to
        self.errors: Counter[str] = Counter()
        # Wall-clock arrival (epoch seconds) of frames about each reply, by reply_to.
        self.typing_at: dict[int, float] = {}
        self.first_delta_at: dict[int, float] = {}
        self.final_at: dict[int, float] = {}
        self.send_lag = 0.0  # open loop: how late the client sent, at worst
        self._sent_at: dict[str, float] = {}
        self._waiting: dict[int, tuple[str, float]] = {}  # message_id -> (client id, sent at)
        self._early: dict[int, float] = {}  # replies that beat their ack
        self._done: dict[str, asyncio.Future] = {}
        self._expected: dict[str, asyncio.Future] = {}
        self._pongs: asyncio.Queue[float] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self._closing = False

    async def open(self, ws_base: str, compression: str | None = "deflate") -> Trainee:
        """Connect and start the session the way the web client does (session_start)."""
        self.compression = compression
        self._closing = False
        self.ws = await websockets.connect(
            f"{ws_base}/chat/{self.session_id}",
            compression=compression,
            max_size=2**22,
            open_timeout=60,
            close_timeout=2,
            **self.user.socket_options(),
        )
        self._reader = asyncio.create_task(self._read())
        started = self._expect("session_start")
        await self._send("session_start", "")
        await asyncio.wait_for(started, 60)
        return self

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def restart(self, stack: Stack) -> None:
        """The session ended (its script is done): start another, as a trainee would."""
        waiting = self.outstanding
        if waiting:
            await asyncio.wait(waiting, timeout=REPLY_TIMEOUT_SECONDS)
        await self.close()
        (self.session_id,) = await create_sessions(stack, [self.user])
        self.session_ids.append(self.session_id)
        self.completed = False
        await self.open(stack.ws_base, self.compression)

    async def say(self, scheduled: float | None = None) -> asyncio.Future:
        """Send the next line; the future resolves when its reply (or an error) arrives."""
        self.sent += 1
        self._next_id += 1
        client_id = f"m{self._next_id}"
        done = asyncio.get_running_loop().create_future()
        self._done[client_id] = done
        now = time.perf_counter()
        self._sent_at[client_id] = now if scheduled is None else scheduled
        if scheduled is not None:
            self.send_lag = max(self.send_lag, now - scheduled)
        line = f"{TRAINEE_LINES[self._next_id % len(TRAINEE_LINES)]} {_reference(self.session_id, self._next_id)}"
        try:
            await self._send(
                "user_message", f"{line} {self.marker}" if self.marker else line, client_message_id=client_id
            )
        except websockets.ConnectionClosed:
            self.sent -= 1  # never sent: not a missing reply
            del self._done[client_id], self._sent_at[client_id]
            raise
        return done

    async def ping(self) -> float:
        started = time.perf_counter()
        await self._send("ping", "")
        return await asyncio.wait_for(self._pongs.get(), 10) - started

    @property
    def outstanding(self) -> list[asyncio.Future]:
        return [f for f in self._done.values() if not f.done()]

    async def _send(self, type: str, content: str, **metadata: Any) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"type": type, "content": content, "metadata": metadata}))

    def _expect(self, type: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._expected[type] = future
        return future

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now, wall = time.perf_counter(), time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "assistant_delta":
                    self.first_delta_at.setdefault(frame.get("reply_to"), wall)
                elif kind == "message_ack":
                    self._on_ack(frame, now)
                elif kind == "assistant_message":
                    reply_to = frame["metadata"].get("reply_to")
                    if reply_to is not None:
                        self.final_at.setdefault(reply_to, wall)
                    self._on_reply(reply_to, frame, now)
                elif kind == "typing":
                    self.typing_at.setdefault(frame.get("reply_to"), wall)
                elif kind == "pong":
                    self._pongs.put_nowait(now)
                elif kind == "session_complete":
                    self.completed = True
                elif kind == "error":
                    self._on_error(frame)
                expected = self._expected.pop(kind, None)
                if expected is not None and not expected.done():
                    expected.set_result(frame)
        except websockets.ConnectionClosed as closed:
            if not self._closing:
                self.errors[f"socket closed {closed.rcvd.code if closed.rcvd else ''}".strip()] += 1
        except Exception as error:  # noqa: BLE001 - a frame the bench did not expect: count it, stop this trainee
            self.errors[f"unexpected frame ({type(error).__name__})"] += 1
        finally:
            for future in self.outstanding:
                future.set_result(None)

    def _on_ack(self, frame: dict, now: float) -> None:
        message_id, client_id = frame["message_id"], frame["client_message_id"]
        sent_at = self._sent_at.pop(client_id)
        self.acked.append(message_id)
        if message_id in self._early:
            self._finish(message_id, client_id, sent_at, self._early.pop(message_id))
        else:
            self._waiting[message_id] = (client_id, sent_at)

    def _on_reply(self, reply_to: int | None, frame: dict, now: float) -> None:
        if reply_to is None:
            return  # the scenario's opening line
        self.replies[reply_to] += 1
        if self.replies[reply_to] > 1:
            return
        waiting = self._waiting.pop(reply_to, None)
        if waiting is None:
            self._early[reply_to] = now
            return
        self._finish(reply_to, waiting[0], waiting[1], now)

    def _on_error(self, frame: dict) -> None:
        if frame.get("code") == "session_completed" and self._sent_at:
            # The oldest message without an ack was refused, not stored: resend it elsewhere.
            client_id = next(iter(self._sent_at))
            del self._sent_at[client_id]
            self.sent -= 1
            self.rejected += 1
            self.completed = True
            done = self._done.pop(client_id)
            if not done.done():
                done.set_result(None)
            return
        self.errors[frame.get("code", "error")] += 1
        waiting = self._waiting.pop(frame.get("reply_to") or frame.get("message_id") or -1, None)
        done = self._done.pop(waiting[0], None) if waiting is not None else None
        if done is not None and not done.done():
            done.set_result(None)

    def _finish(self, message_id: int, client_id: str, sent_at: float, received_at: float) -> None:
        self.latencies.append(received_at - sent_at)
        done = self._done.pop(client_id)
        if not done.done():
            done.set_result(received_at - sent_at)


async def make_trainees(stack: Stack, n: int, prefix: str) -> list[Trainee]:
    """Users with a session each, not connected yet."""
    users = await prepare_users(stack, n, prefix)
    return [Trainee(u, s) for u, s in zip(users, await create_sessions(stack, users), strict=True)]


async def connect_all(stack: Stack, trainees: list[Trainee], compression: str | None = "deflate") -> list[Trainee]:
    limit = asyncio.Semaphore(50)

    async def one(trainee: Trainee) -> Trainee:
        async with limit:
            return await trainee.open(stack.ws_base, compression)

    return list(await asyncio.gather(*(one(t) for t in trainees)))


async def open_trainees(stack: Stack, n: int, prefix: str, compression: str | None = "deflate") -> list[Trainee]:
    return await connect_all(stack, await make_trainees(stack, n, prefix), compression)


async def close_all(trainees: list[Trainee]) -> None:
    await asyncio.gather(*(t.close() for t in trainees), return_exceptions=True)


async def closed_loop(stack: Stack, trainee: Trainee, *, count: int | None = None, until: float | None = None) -> None:
    """Send, wait for the reply, repeat: one message in flight per trainee. A session
    whose script has ended is replaced by a new one, outside the timed round trips."""
    while (count is None or trainee.sent < count) and (until is None or time.perf_counter() < until):
        if trainee.completed:
            await trainee.restart(stack)
        try:
            reply = await asyncio.wait_for(await trainee.say(), REPLY_TIMEOUT_SECONDS)
        except TimeoutError:
            trainee.errors["reply timeout"] += 1
            return
        if reply is None and not trainee.completed:
            return  # an error frame or a closed socket, counted by the trainee


async def poisson_loop(
    stack: Stack, trainee: Trainee, *, start: float, until: float, mean_interval: float, rng: random.Random
) -> None:
    """Open loop: send at the times of a Poisson process (exponential gaps of
    `mean_interval` on average) from `start` until `until`, whatever is still in flight;
    latency runs from the scheduled time. Replacing an ended session pauses the schedule."""
    at = start + rng.expovariate(1 / mean_interval)
    while at < until:
        await asyncio.sleep(max(at - time.perf_counter(), 0))
        if trainee.completed:
            began = time.perf_counter()
            await trainee.restart(stack)
            at += time.perf_counter() - began
        try:
            await trainee.say(scheduled=at)
        except websockets.ConnectionClosed:
            trainee.errors["send on a closed socket"] += 1
            return
        at += rng.expovariate(1 / mean_interval)
