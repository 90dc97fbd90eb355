"""End to end with a model that takes seconds, as real ones do: one worker process (the
Procfile's) holds many replies in flight at once, and CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS
bounds the calls to the model, with the waiting ones visible in /api/health."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest

from tests.support.client import ChatClient, bearer_headers, create_session
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

TRAINEES = 60
LINE = "I'm so sorry about this, I understand how frustrating it is. Let me help you get back in."


def _slow_stack(tmp_path, **env: str) -> Stack:
    return Stack(
        data_dir=tmp_path / "data",
        extra_env={
            "CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "3000",
            "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": "25",
            "CHATTRAIN_SWEEP_INTERVAL_SECONDS": "0.5",  # the heartbeat publishes the slot counts
            **env,
        },
    )


async def _everyone_says_one_line(stack: Stack, *, watch_health: bool = False) -> list[dict]:
    """Each of TRAINEES trainees sends one line at once; returns the health documents
    seen while the replies were being generated."""
    tokens = [stack.create_user("trainee", f"trainee-{i}") for i in range(TRAINEES)]
    sessions = [await create_session(stack.base_url, token=token) for token in tokens]
    chats = [
        await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=token)
        for session, token in zip(sessions, tokens, strict=True)
    ]
    seen: list[dict] = []
    done = asyncio.Event()

    async def watch() -> None:
        async with httpx.AsyncClient(base_url=stack.base_url, headers=bearer_headers(stack.monitor_token)) as http:
            while not done.is_set():
                seen.append((await http.get("/api/health")).json())
                await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch()) if watch_health else None
    try:
        replies = await asyncio.gather(*(chat.say(LINE, timeout=60) for chat in chats))
    finally:
        done.set()
        if watcher is not None:
            await watcher
        for chat in chats:
            await chat.close()
    assert all(reply["content"] for _, reply in replies)
    return seen


def _most_model_calls_at_once(stack: Stack) -> int:
    """From the stamps the worker keeps in reply_jobs: the most replies whose model call
    was in progress at one instant."""
    with sqlite3.connect(stack.data_dir / "chattrain.db") as db:
        spans = db.execute(
            "select model_requested_at, model_last_chunk_at from reply_jobs where status = 'done'"
        ).fetchall()
    assert len(spans) == TRAINEES
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


async def test_one_worker_process_holds_every_slow_reply_in_flight_at_once(tmp_path):
    stack = _slow_stack(tmp_path)
    stack.start_all()
    try:
        await _everyone_says_one_line(stack)
        # With threads, four at a time; as greenlets, every reply waits on the model at once.
        assert _most_model_calls_at_once(stack) == TRAINEES
    finally:
        stack.stop_all()


async def test_model_calls_are_bounded_per_worker_and_the_waiting_replies_show_in_health(tmp_path):
    stack = _slow_stack(tmp_path, CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS="10")
    stack.start_all()
    try:
        seen = await _everyone_says_one_line(stack, watch_health=True)
        assert _most_model_calls_at_once(stack) == 10
        assert max(health["worker"]["model_calls"] for health in seen) == 10
        assert max(health["worker"]["model_calls_waiting"] for health in seen) > 0
        after = stack.health()
        assert after["queue"]["wait"]["replies"] == TRAINEES
        assert after["queue"]["wait"]["p99_ms"] > 1000  # the last ten waited for three rounds of the model
    finally:
        stack.stop_all()
