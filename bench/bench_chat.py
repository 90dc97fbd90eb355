"""Issue 4's benchmark: the real web and worker processes, started from the Procfile on a
temporary SQLite folder, driven by an asyncio WebSocket load generator that speaks the
public protocol. Prints one table; `--json` also writes every number.

    python -m bench.bench_chat                    # the full run, about 4 minutes
    python -m bench.bench_chat --quick            # a smoke run, about a minute
    python -m bench.bench_chat --cases a,c --json out.json
    python -m bench.bench_chat --cases a,c --profile prof/  # py-spy both processes in (a) and (c)

Cases: floor (ping -> pong, never touches the queue), a (one trainee, closed loop),
b (50 trainees at 2 messages/s each, open loop), c (200 trainees, closed loop:
saturation, and every reply delivered exactly once), d (the first reply after an idle
period, and idle CPU), e (idle sockets: web RSS per socket, with and without
permessage-deflate, each on a fresh stack), s (a second stack whose mock LLM is paced
like a real one: time to the first delta and to the final message).

Latency runs from sending a user_message to receiving the assistant_message whose
metadata.reply_to is the ack's message_id; in the open loop it runs from the scheduled
send time, so a late client cannot hide queueing. A trainee whose session ends (its script
is done) starts a new one, outside the timed round trips. CPU is psutil's user+system time of
each Procfile process and its children: Hypercorn serves from a child it spawns (the
master and multiprocessing's resource tracker idle), huey_consumer is one process with
threads. RSS is that of the serving process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from shared.llm.mock import split_into_chunks
from tests.support.stack import Stack, procfile_commands

# Settings for every stack of the run: per-user limits a benchmark must not hit. High
# rather than 0 (which turns a limit off), so the counters still do their production work.
BENCH_ENV = {
    "CHATTRAIN_MESSAGES_PER_WINDOW": "1000000",
    "CHATTRAIN_SESSIONS_PER_WINDOW": "1000000",
    "CHATTRAIN_WS_TICKETS_PER_WINDOW": "1000000",
    "CHATTRAIN_MAX_ACTIVE_SESSIONS_PER_USER": "1000000",
    # A scenario whose sessions do not end during the run (see its scenario.yaml).
    "CHATTRAIN_SCENARIOS_DIR": str(Path(__file__).resolve().parent / "scenarios"),
}
# Case s: a mock LLM paced like a hosted model.
STREAM_ENV = {"CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "400", "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": "40"}
SCENARIO = "long-practice"
TRAINEE_LINES = (
    "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in.",
    "Thank you. To verify the account, can you confirm the email address on it?",
    "Please check your spam folder too; the reset link expires in an hour.",
    "You will get a refund for the duplicate charge within 5 business days.",
    "Is there anything else I can help with today? Thank you for your patience.",
)
REPLY_TIMEOUT_SECONDS = 30.0  # closed loop: a reply later than this counts as an error
DRAIN_SECONDS = 60.0  # open loop: how long to wait for the backlog after the last send
ALL_CASES = ("floor", "a", "b", "c", "d", "e", "s")


@dataclass(frozen=True)
class Scale:
    floor_pings: int = 300
    a_messages: int = 300
    b_trainees: int = 50
    b_per_second: float = 2.0
    b_seconds: float = 20.0
    c_trainees: int = 200
    c_seconds: float = 15.0
    d_idle_seconds: float = 60.0
    d_trials: int = 3
    e_sockets: int = 1000
    e_idle_cpu_seconds: float = 10.0
    s_trainees: int = 4
    s_messages_each: int = 5


QUICK = Scale(
    floor_pings=100, a_messages=50, b_seconds=5.0, c_seconds=5.0, d_idle_seconds=5.0,
    e_sockets=200, e_idle_cpu_seconds=3.0, s_trainees=2, s_messages_each=2,
)


# --- users and sessions: the only code that knows how a trainee gets in ---------------


@dataclass(frozen=True)
class BenchUser:
    user_id: str
    token: str | None = None

    def http_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def socket_options(self) -> dict[str, Any]:
        return {"subprotocols": ["chattrain.v1", f"bearer.{self.token}"]} if self.token else {}


async def prepare_users(stack: Stack, n: int, prefix: str = "trainee") -> list[BenchUser]:
    """Make `n` users that may chat on `stack`: with auth, trainees created through the
    test stack's `create_user` (which returns their token); before auth, plain ids."""
    ids = [f"bench-{prefix}-{i}" for i in range(n)]
    create_user = getattr(stack, "create_user", None)
    if create_user is None:
        return [BenchUser(user_id) for user_id in ids]
    tokens = await asyncio.to_thread(lambda: [create_user("trainee", user_id) for user_id in ids])
    return [BenchUser(user_id, token) for user_id, token in zip(ids, tokens)]


async def create_sessions(stack: Stack, users: list[BenchUser]) -> list[int]:
    """One session per user, over HTTP, a few requests at a time."""
    limit = asyncio.Semaphore(16)

    async def one(http: httpx.AsyncClient, user: BenchUser) -> int:
        async with limit:
            response = await http.post(
                "/api/sessions", json={"scenario_id": SCENARIO, "user_id": user.user_id}, headers=user.http_headers()
            )
        if response.status_code in (401, 403):
            raise RuntimeError(f"POST /api/sessions: {response.status_code}: auth is on; make prepare_users() fetch tokens")
        response.raise_for_status()
        return response.json()["id"]

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        return list(await asyncio.gather(*(one(http, user) for user in users)))


# --- the load generator ----------------------------------------------------------------


class Trainee:
    """One socket on one session: sends user_messages and times their replies."""

    def __init__(self, user: BenchUser, session_id: int):
        self.user = user
        self.session_id = session_id
        self.session_ids = [session_id]
        self.ws: websockets.ClientConnection | None = None
        self.compression: str | None = "deflate"
        self.sent = 0  # user_messages sent, less those refused because the session had ended
        self.rejected = 0
        self.restarts = 0
        self.completed = False  # the server said the session has ended
        self._next_id = 0
        self.acked: list[int] = []
        self.latencies: list[float] = []  # seconds, send -> assistant_message
        self.first_deltas: list[float] = []  # seconds, send -> first assistant_delta
        self.replies: Counter[int] = Counter()  # assistant_message frames per reply_to
        self.by_message: dict[int, float] = {}  # message_id -> latency, seconds
        self.reply_texts: dict[int, str] = {}  # message_id -> the reply's content
        self.errors: Counter[str] = Counter()
        self.send_lag = 0.0  # open loop: how late the client sent, at worst
        self._sent_at: dict[str, float] = {}
        self._waiting: dict[int, tuple[str, float]] = {}  # message_id -> (client id, sent at)
        self._early: dict[int, float] = {}  # replies that beat their ack
        self._delta_seen: set[int] = set()
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
        self.restarts += 1
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
        await self._send("user_message", TRAINEE_LINES[self._next_id % len(TRAINEE_LINES)], client_message_id=client_id)
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
                now = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message_ack":
                    self._on_ack(frame, now)
                elif kind == "assistant_message":
                    self._on_reply(frame["metadata"].get("reply_to"), frame, now)
                elif kind == "assistant_delta":
                    self._on_delta(frame.get("reply_to"), now)
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
        self.reply_texts[reply_to] = frame["content"]
        waiting = self._waiting.pop(reply_to, None)
        if waiting is None:
            self._early[reply_to] = now
            return
        self._finish(reply_to, waiting[0], waiting[1], now)

    def _on_delta(self, reply_to: int | None, now: float) -> None:
        if reply_to in self._waiting and reply_to not in self._delta_seen:
            self._delta_seen.add(reply_to)
            self.first_deltas.append(now - self._waiting[reply_to][1])

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
        self.by_message[message_id] = received_at - sent_at
        done = self._done.pop(client_id)
        if not done.done():
            done.set_result(received_at - sent_at)


async def make_trainees(stack: Stack, n: int, prefix: str) -> list[Trainee]:
    """Users with a session each, not connected yet."""
    users = await prepare_users(stack, n, prefix)
    return [Trainee(u, s) for u, s in zip(users, await create_sessions(stack, users))]


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


async def open_loop(stack: Stack, trainee: Trainee, *, start: float, interval: float, count: int) -> None:
    """Send on a fixed schedule whatever is still in flight. Replacing an ended session
    pauses the schedule (a trainee starting a new session is not waiting for a reply)."""
    for i in range(count):
        at = start + i * interval
        await asyncio.sleep(max(at - time.perf_counter(), 0))
        if trainee.completed:
            began = time.perf_counter()
            await trainee.restart(stack)
            start += time.perf_counter() - began
            at += time.perf_counter() - began
        await trainee.say(scheduled=at)


# --- measuring the processes -------------------------------------------------------------


class ProcessMeter:
    """CPU and memory of one Procfile process and its children."""

    def __init__(self, name: str, pid: int):
        self.name = name
        self.root = psutil.Process(pid)

    def tree(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def server(self) -> psutil.Process:
        """The process doing the work: Hypercorn's spawned worker, else the root."""
        workers = [p for p in self.root.children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
        return workers[0] if workers else self.root

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        return self.server().memory_info().rss


class StackMeter:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.procs = {name: ProcessMeter(name, p.pid) for name, p in stack.processes.items()}
        self.client = psutil.Process()

    def snapshot(self) -> dict[str, float]:
        snap = {name: m.cpu_seconds() for name, m in self.procs.items()}
        times = self.client.cpu_times()
        box = psutil.cpu_times()
        busy = sum(box) - box.idle - getattr(box, "iowait", 0.0) - getattr(box, "guest", 0.0) - getattr(box, "guest_nice", 0.0)
        return {**snap, "client": times.user + times.system, "box": busy, "t": time.perf_counter()}

    def cpu_since(self, before: dict[str, float]) -> dict[str, float]:
        after = self.snapshot()
        return {name: after[name] - before[name] for name in before}

    def rss_mib(self) -> dict[str, float]:
        return {name: m.rss_bytes() / 2**20 for name, m in self.procs.items()}

    def pids(self) -> dict[str, int]:
        return {name: m.server().pid for name, m in self.procs.items()}


def latency_stats(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] * 1000

    return {"n": len(ordered), "p50": rank(50), "p90": rank(90), "p99": rank(99), "max": ordered[-1] * 1000}


def work_row(case: str, what: str, meter: StackMeter, before: dict, trainees: list[Trainee], **extra: Any) -> dict:
    """A row for a loaded case: throughput, latency, errors, CPU per reply, RSS."""
    cpu = meter.cpu_since(before)
    replies = sum(len(t.latencies) for t in trainees)
    errors = Counter()
    for t in trainees:
        errors.update(t.errors)
    per_reply = {name: cpu[name] / replies * 1000 for name in ("web", "worker")} if replies else {}
    return {
        "case": case,
        "what": what,
        "n": replies,
        "replies_per_second": replies / cpu["t"] if cpu["t"] else 0.0,
        "latency_ms": latency_stats([s for t in trainees for s in t.latencies]),
        "errors": dict(errors),
        "trainees": len(trainees),
        "sessions": sum(len(t.session_ids) for t in trainees),
        "cpu_ms_per_reply": per_reply,
        "client_cpu_percent": cpu["client"] / cpu["t"] * 100,
        # The box is shared: CPU that neither the stack nor this client used.
        "other_cpu_percent": (cpu["box"] - cpu["web"] - cpu["worker"] - cpu["client"]) / cpu["t"] * 100,
        "rss_mib": meter.rss_mib(),
        **extra,
    }


# --- the cases -----------------------------------------------------------------------------


async def case_floor(stack: Stack, meter: StackMeter, scale: Scale) -> dict:
    (trainee,) = await open_trainees(stack, 1, "floor")
    for _ in range(20):
        await trainee.ping()
    before = meter.snapshot()
    latencies = [await trainee.ping() for _ in range(scale.floor_pings)]
    cpu = meter.cpu_since(before)
    await trainee.close()
    return {
        "case": "floor", "what": "ping -> pong (no queue)", "n": len(latencies),
        "replies_per_second": len(latencies) / cpu["t"], "latency_ms": latency_stats(latencies),
        "errors": dict(trainee.errors), "rss_mib": meter.rss_mib(),
        "cpu_ms_per_reply": {"web": cpu["web"] / len(latencies) * 1000, "worker": cpu["worker"] / len(latencies) * 1000},
        "other_cpu_percent": (cpu["box"] - cpu["web"] - cpu["worker"] - cpu["client"]) / cpu["t"] * 100,
    }


async def case_a(stack: Stack, meter: StackMeter, scale: Scale, profile_dir: Path | None) -> dict:
    (trainee,) = await open_trainees(stack, 1, "a")
    await closed_loop(stack, trainee, count=10)  # warm-up, not measured
    trainee.latencies.clear()
    profilers = start_profilers(meter, profile_dir, "a") if profile_dir else []
    before = meter.snapshot()
    await closed_loop(stack, trainee, count=10 + scale.a_messages)
    stop_profilers(profilers)
    # One session grows by two messages a reply: compare the start and the end of the run.
    tenth = max(len(trainee.latencies) // 10, 1)
    trend = [latency_stats(trainee.latencies[:tenth]), latency_stats(trainee.latencies[-tenth:])]
    row = work_row("a", "1 trainee, closed loop", meter, before, [trainee], trend=trend)
    await trainee.close()
    return row


async def case_b(stack: Stack, meter: StackMeter, scale: Scale) -> dict:
    trainees = await open_trainees(stack, scale.b_trainees, "b")
    await asyncio.gather(*(closed_loop(stack, t, count=1) for t in trainees))  # warm-up
    for t in trainees:
        t.latencies.clear()
    interval = 1 / scale.b_per_second
    count = int(scale.b_seconds * scale.b_per_second)
    start = time.perf_counter() + 0.5
    before = meter.snapshot()
    await asyncio.gather(*(
        open_loop(stack, t, start=start + interval * i / len(trainees), interval=interval, count=count)
        for i, t in enumerate(trainees)
    ))
    outstanding = [f for t in trainees for f in t.outstanding]
    if outstanding:
        await asyncio.wait(outstanding, timeout=DRAIN_SECONDS)
    for t in trainees:
        if t.outstanding:
            t.errors["no reply"] += len(t.outstanding)
    row = work_row(
        "b", f"{scale.b_trainees} trainees x {scale.b_per_second:g}/s, open loop {scale.b_seconds:g} s",
        meter, before, trainees, sent=sum(t.sent - 1 for t in trainees),
        client_send_lag_ms=max(t.send_lag for t in trainees) * 1000,
    )
    await close_all(trainees)
    return row


async def case_c(stack: Stack, meter: StackMeter, scale: Scale, profile_dir: Path | None) -> dict:
    trainees = await open_trainees(stack, scale.c_trainees, "c")
    profilers = start_profilers(meter, profile_dir, "c") if profile_dir else []
    before = meter.snapshot()
    until = time.perf_counter() + scale.c_seconds
    await asyncio.gather(*(closed_loop(stack, t, until=until) for t in trainees))
    stop_profilers(profilers)
    row = work_row("c", f"{scale.c_trainees} trainees, closed loop {scale.c_seconds:g} s", meter, before, trainees)
    await asyncio.sleep(1.0)  # let any duplicate frame arrive before counting
    row["delivery"] = delivery_check(stack, trainees)
    await close_all(trainees)
    return row


def delivery_check(stack: Stack, trainees: list[Trainee]) -> dict[str, int]:
    """Every acked message has exactly one reply on its socket and one row in the DB."""
    acked = {m for t in trainees for m in t.acked}
    on_socket = Counter()
    for t in trainees:
        on_socket.update({m: c for m, c in t.replies.items() if m in acked})
    uri = f"file:{stack.data_dir / 'chattrain.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        rows = conn.execute("SELECT reply_to, COUNT(*) FROM messages WHERE reply_to IS NOT NULL GROUP BY reply_to")
        in_db = Counter({reply_to: n for reply_to, n in rows if reply_to in acked})
    return {
        "sent": sum(t.sent for t in trainees),
        "acked": len(acked),
        "socket_once": sum(1 for m in acked if on_socket[m] == 1),
        "socket_missing": sum(1 for m in acked if on_socket[m] == 0),
        "socket_duplicated": sum(1 for m in acked if on_socket[m] > 1),
        "db_once": sum(1 for m in acked if in_db[m] == 1),
        "db_missing": sum(1 for m in acked if in_db[m] == 0),
        "db_duplicated": sum(1 for m in acked if in_db[m] > 1),
    }


async def case_d(stack: Stack, meter: StackMeter, scale: Scale) -> list[dict]:
    """The first reply after an idle period, over `d_trials` periods (one sample each, so
    the verdict takes their median; all are printed); idle CPU over all of them."""
    (trainee,) = await open_trainees(stack, 1, "d")
    await closed_loop(stack, trainee, count=3)
    firsts: list[float] = []
    idle: Counter[str] = Counter()
    for _ in range(scale.d_trials):
        await asyncio.sleep(1.0)
        before = meter.snapshot()
        await asyncio.sleep(scale.d_idle_seconds)
        idle.update(meter.cpu_since(before))
        trainee.latencies.clear()
        await closed_loop(stack, trainee, count=trainee.sent + 1)
        firsts += trainee.latencies
    await trainee.close()
    idle_percent = {name: idle[name] / idle["t"] * 100 for name in ("web", "worker")}
    return [
        {
            "case": "d", "what": f"first reply after {scale.d_idle_seconds:g} s idle, {scale.d_trials} times",
            "n": len(firsts), "latency_ms": latency_stats(firsts), "errors": dict(trainee.errors),
            "rss_mib": meter.rss_mib(), "trials_ms": [round(f * 1000, 2) for f in firsts],
        },
        {
            "case": "idle", "what": f"idle CPU over {idle['t']:.0f} s (1 socket open)",
            "idle_cpu_percent": idle_percent, "errors": {},
            "other_cpu_percent": (idle["box"] - idle["web"] - idle["worker"] - idle["client"]) / idle["t"] * 100,
        },
    ]


async def case_e(root: Path, scale: Scale, compression: str | None, *, idle_cpu: bool) -> dict:
    """Idle sockets on a fresh stack, so the RSS delta is the sockets' alone."""
    label = "client offers deflate, as browsers do" if compression else "client offers no deflate"
    with running_stack(root, f"e-{compression or 'plain'}", {}) as stack:
        meter = StackMeter(stack)
        await close_all(await open_trainees(stack, 20, "e-warm", compression))  # first-use allocations
        trainees = await make_trainees(stack, scale.e_sockets, f"e-{compression or 'plain'}")
        await asyncio.sleep(1.0)
        baseline = meter.rss_mib()
        await connect_all(stack, trainees, compression)
        await asyncio.sleep(2.0)
        loaded = meter.rss_mib()
        row = {
            "case": "e", "what": f"{scale.e_sockets} idle sockets, {label}", "n": scale.e_sockets,
            "rss_mib": loaded, "baseline_rss_mib": baseline,
            "kib_per_socket": (loaded["web"] - baseline["web"]) * 1024 / scale.e_sockets,
            "errors": dict(sum((Counter(t.errors) for t in trainees), Counter())),
        }
        if idle_cpu:
            before = meter.snapshot()
            await asyncio.sleep(scale.e_idle_cpu_seconds)
            idle = meter.cpu_since(before)
            row["idle_cpu_percent"] = {name: idle[name] / idle["t"] * 100 for name in ("web", "worker")}
        await close_all(trainees)
    return row


async def case_s(root: Path, scale: Scale) -> list[dict]:
    """A paced mock LLM on its own stack: time to the first delta and to the reply."""
    first_chunk = int(STREAM_ENV["CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS"]) / 1000
    per_chunk = 1 / float(STREAM_ENV["CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND"])
    with running_stack(root, "stream", STREAM_ENV) as stack:
        meter = StackMeter(stack)
        trainees = await open_trainees(stack, scale.s_trainees, "s")
        before = meter.snapshot()
        await asyncio.gather(*(closed_loop(stack, t, count=scale.s_messages_each) for t in trainees))
        row = work_row("s", "", meter, before, trainees)
        await close_all(trainees)
    # What the paced mock alone takes per reply: the first chunk's wait, then one tick per
    # further chunk (12 characters each, the default).
    overhead = [
        latency - (first_chunk + (len(split_into_chunks(t.reply_texts[m], 12)) - 1) * per_chunk)
        for t in trainees for m, latency in t.by_message.items()
    ]
    first = latency_stats([d for t in trainees for d in t.first_deltas])
    concurrency = f"{scale.s_trainees} trainees x {scale.s_messages_each}, closed loop"
    return [
        {**row, "what": f"stream: first assistant_delta ({concurrency})", "latency_ms": first,
         "overhead_ms": None if first is None else first["p50"] - first_chunk * 1000},
        {**row, "what": "stream: final assistant_message", "overhead_ms": latency_stats(overhead)},
    ]


# --- plumbing ----------------------------------------------------------------------------


@contextlib.contextmanager
def running_stack(root: Path, name: str, env: dict[str, str]) -> Iterator[Stack]:
    stack = Stack(data_dir=root / name, extra_env={**BENCH_ENV, **env})
    try:
        stack.start_all(timeout=60)
        yield stack
    except Exception:
        print(f"--- logs of the {name} stack (tail) ---\n{stack.all_logs()[-4000:]}", file=sys.stderr)
        raise
    finally:
        stack.stop_all()


def start_profilers(meter: StackMeter, folder: Path, case: str) -> list[subprocess.Popen]:
    """py-spy on the web and worker processes: collapsed stacks of the threads holding the
    GIL (`--gil`), i.e. Python's CPU time. Plain sampling is no good here: py-spy counts
    threads blocked in queue.get, time.sleep or select as busy, whatever --idle says."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--rate", "250",
             "--gil", "--format", "raw", "--output", str(folder / f"{case}-{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=open(folder / f"{case}-{name}.log", "wb"),
        )
        for name, pid in meter.pids().items()
    ]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    """py-spy writes its file when interrupted."""
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(60)


def summarise_profile(path: Path, top: int = 12) -> str:
    """py-spy raw output: the frames with the most self time, and our own functions with
    the most inclusive time (a function counts once per sample however deep it recurses)."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        self_time[frames[-1]] += int(count)
        functions = {f.split(":")[0] + ")" for f in frames if f.split("(")[-1].startswith(("web/", "worker/", "shared/"))}
        inclusive.update(dict.fromkeys(functions, int(count)))
    if not total:
        return f"{path.stem}: no samples"
    lines = [f"{path.stem}: {total} samples holding the GIL; self time:"]
    lines += [f"  {n / total * 100:5.1f}%  {frame}" for frame, n in self_time.most_common(top)]
    lines.append("  our code, inclusive:")
    lines += [f"  {n / total * 100:5.1f}%  {function}" for function, n in inclusive.most_common(top)]
    return "\n".join(lines)


def machine_line() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC} | {platform.system()} {platform.release()} "
        f"{platform.machine()}, nproc {os.cpu_count()}{model}, RAM {psutil.virtual_memory().total / 2**30:.1f} GiB"
        f" | Python {platform.python_version()}, websockets {websockets.__version__} client on the same box"
    )


def raise_fd_limit(sockets: int) -> None:
    """Each socket costs a descriptor here and one in the web process, which inherits this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 1024
    if soft < wanted and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


# --- the table -----------------------------------------------------------------------------


TARGETS = {
    "a": "p50<=3 p99<=10",
    "b": "p99<=10, 0 errors",
    "c": ">=1000/s, exactly once",
    "d": "<=5 ms",
    "idle": "<=1% core",
    "e": "<=40 KiB/socket",
}


def verdict(row: dict) -> str:
    lat = row.get("latency_ms") or {}
    errors = sum(row.get("errors", {}).values())
    case = row["case"]
    if case == "a":
        ok = lat and lat["p50"] <= 3 and lat["p99"] <= 10
    elif case == "b":
        ok = lat and lat["p99"] <= 10 and errors == 0
    elif case == "c":
        d = row["delivery"]
        exact = d["sent"] == d["acked"] == d["socket_once"] == d["db_once"]
        ok = row["replies_per_second"] >= 1000 and exact and errors == 0
    elif case == "d":
        ok = lat and lat["p50"] <= 5
    elif case == "idle":
        ok = sum(row["idle_cpu_percent"].values()) <= 1
    elif case == "e":
        ok = row["kib_per_socket"] <= 40
    else:
        return ""
    return f"{TARGETS[case]}: {'ok' if ok else 'MISS'}"


def notes(row: dict) -> str:
    parts = []
    if row.get("errors"):
        parts.append("errors " + ", ".join(f"{k} {v}" for k, v in row["errors"].items()))
    if row.get("cpu_ms_per_reply"):
        cpu = row["cpu_ms_per_reply"]
        parts.append(f"CPU web {cpu['web']:.2f} + worker {cpu['worker']:.2f} ms")
    if "client_cpu_percent" in row and row["case"] in ("b", "c"):
        parts.append(f"client {row['client_cpu_percent']:.0f}% core")
    if row.get("other_cpu_percent", 0) >= 10:
        parts.append(f"OTHER PROCESSES {row['other_cpu_percent']:.0f}% core")
    if row.get("sessions", 0) > row.get("trainees", 1) and row["case"] in ("a", "b", "c", "s"):
        parts.append(f"{row['sessions']} sessions (a new one when a script ended)")
    if row.get("trend") and all(row["trend"]):
        first, last = row["trend"]
        parts.append(f"p50 first {first['n']} {first['p50']:.1f} ms, last {last['n']} {last['p50']:.1f} ms")
    if "trials_ms" in row:
        parts.append("each: " + ", ".join(f"{ms:.2f}" for ms in row["trials_ms"]) + " ms (verdict on the median)")
    if "client_send_lag_ms" in row:
        parts.append(f"sent {row['sent']}, client late <= {row['client_send_lag_ms']:.1f} ms")
    if "delivery" in row:
        d = row["delivery"]
        parts.append(
            f"sent {d['sent']} acked {d['acked']}; socket once {d['socket_once']} missing {d['socket_missing']}"
            f" dup {d['socket_duplicated']}; DB once {d['db_once']} missing {d['db_missing']} dup {d['db_duplicated']}"
        )
    if "idle_cpu_percent" in row:
        cpu = row["idle_cpu_percent"]
        prefix = "idle CPU with these sockets: " if row["case"] == "e" else ""
        parts.append(f"{prefix}web {cpu['web']:.2f}% + worker {cpu['worker']:.2f}% of a core")
    if "kib_per_socket" in row:
        parts.append(f"web RSS {row['baseline_rss_mib']['web']:.1f} -> {row['rss_mib']['web']:.1f} MiB")
    overhead = row.get("overhead_ms")
    if isinstance(overhead, dict):
        parts.append(f"over the paced LLM: p50 {overhead['p50']:.1f} p99 {overhead['p99']:.1f} ms")
    elif overhead is not None:
        parts.append(f"over the 400 ms first chunk: p50 {overhead:.1f} ms")
    return "; ".join(parts)


def render(rows: list[dict], header: str) -> str:
    floor = next((r["latency_ms"]["p50"] for r in rows if r["case"] == "floor" and r.get("latency_ms")), None)

    def ms(value: float | None) -> str:
        if value is None:
            return ""
        return f"{value:.2f} ({value / floor:.1f}x)" if floor else f"{value:.2f}"

    table = [("case", "what", "n", "replies/s", "p50 ms (x floor)", "p90", "p99", "max", "err",
              "CPU", "RSS web/wkr MiB", "target", "notes")]
    for r in rows:
        lat = r.get("latency_ms") or {}
        cpu = ""
        if r.get("cpu_ms_per_reply"):
            cpu = f"{sum(r['cpu_ms_per_reply'].values()):.2f} ms/reply"
        elif "kib_per_socket" in r:
            cpu = f"{r['kib_per_socket']:.1f} KiB/socket"
        elif r["case"] == "idle":
            cpu = f"{sum(r['idle_cpu_percent'].values()):.2f}% core"
        rss = r.get("rss_mib")
        table.append((
            r["case"], r["what"], str(r.get("n", "")),
            f"{r['replies_per_second']:.0f}" if "replies_per_second" in r else "",
            ms(lat.get("p50")), ms(lat.get("p90")), ms(lat.get("p99")), ms(lat.get("max")),
            str(sum(r.get("errors", {}).values())), cpu,
            f"{rss['web']:.0f}/{rss['worker']:.0f}" if rss else "", verdict(r), notes(r),
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = [header]
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 5))
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------


async def run(cases: set[str], scale: Scale, root: Path, profile_dir: Path | None) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    info: dict[str, Any] = {}
    with running_stack(root, "main", {}) as stack:
        meter = StackMeter(stack)
        info["pids"] = {name: {"procfile_pid": p.pid, "server_pid": meter.procs[name].server().pid}
                        for name, p in stack.processes.items()}
        rows.append(await case_floor(stack, meter, scale))  # the ratio base, always
        if "a" in cases:
            rows.append(await case_a(stack, meter, scale, profile_dir))
        if "b" in cases:
            rows.append(await case_b(stack, meter, scale))
        if "c" in cases:
            rows.append(await case_c(stack, meter, scale, profile_dir))
        if "d" in cases:
            rows.extend(await case_d(stack, meter, scale))
    if "e" in cases:
        rows.append(await case_e(root, scale, "deflate", idle_cpu=True))
        rows.append(await case_e(root, scale, None, idle_cpu=False))
    if "s" in cases:
        rows.extend(await case_s(root, scale))
    return rows, info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, 5 s idle, 200 sockets: a smoke run")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help=f"comma-separated, from {','.join(ALL_CASES)}")
    parser.add_argument("--idle-seconds", type=float, help="case d's idle period (default 60, quick 5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the web and worker during case c")
    parser.add_argument("--keep", action="store_true", help="keep the data folders (databases, logs)")
    args = parser.parse_args(argv)
    args.cases = {c.strip() for c in args.cases.split(",") if c.strip()}
    unknown = args.cases - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown cases {', '.join(sorted(unknown))}; choose from {','.join(ALL_CASES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    scale = QUICK if args.quick else Scale()
    if args.idle_seconds is not None:
        scale = replace(scale, d_idle_seconds=args.idle_seconds)
    raise_fd_limit(scale.e_sockets + scale.c_trainees)
    root = Path(tempfile.mkdtemp(prefix="chattrain-bench-"))
    try:
        started = time.monotonic()
        load_before = f"{os.getloadavg()[0]:.2f}"
        runner = _runner()
        with runner:
            rows, info = runner.run(run(args.cases, scale, root, args.profile))
        header = machine_line() + f" | load average {load_before} -> {os.getloadavg()[0]:.2f}" + (
            f"\nmock LLM at zero delay; web = Hypercorn serving in-process (pid {info['pids']['web']['server_pid']}),"
            f" worker = {procfile_commands()['worker'].split(' --')[0]} with{procfile_commands()['worker'].split('worker.main.huey')[1]}"
            f" (pid {info['pids']['worker']['server_pid']}); "
            f"run took {time.monotonic() - started:.0f} s"
        )
        print(render(rows, header))
        if args.profile:
            for path in sorted(args.profile.glob("*.txt")):
                if path.stat().st_size:
                    print("\n" + summarise_profile(path))
        if args.json:
            args.json.write_text(json.dumps({"machine": machine_line(), "info": info, "scale": scale.__dict__,
                                             "rows": rows}, indent=2))
    finally:
        if args.keep:
            print(f"data kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def _runner() -> asyncio.Runner:
    """The client on uvloop when it is installed, so the load generator costs less CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    main()
