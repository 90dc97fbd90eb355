"""Wake-ups across hosts (shared/wakeups/channels.py), on the real servers: a wake-up
reaches a receiver through PostgreSQL NOTIFY or Redis pub/sub, wake-ups asked for together
arrive as few, and a receiver that loses Redis reconnects and wakes once back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.settings import Settings
from shared.wakeups.channels import create_waker, create_wakeup_receiver, wakeup_backend
from tests.support.servers import postgres_url, private_redis, redis_url, unique_prefix


def _settings(tmp_path: Path, **values) -> Settings:  # noqa: ANN003
    return Settings(data_dir=tmp_path / "data", redis_key_prefix=unique_prefix(), **values)


def test_the_carrier_follows_the_data_then_the_queue(tmp_path: Path):
    assert wakeup_backend(Settings(data_dir=tmp_path)) == "doorbell"
    assert wakeup_backend(Settings(data_dir=tmp_path, queue_url="redis://h/0")) == "redis"
    both = Settings(data_dir=tmp_path, queue_url="redis://h/0", database_url="postgresql+psycopg://u@h/db")
    assert wakeup_backend(both) == "postgresql"


async def _wakes(receiver_settings: Settings, waker_settings: Settings, asked: int = 1) -> int:
    """Start a receiver, ask for `asked` wake-ups at once, and count the wake-ups that
    arrive (after the one each receiver gives when it connects)."""
    receiver = create_wakeup_receiver(receiver_settings)
    woken = asyncio.Event()
    count = 0

    def on_wake() -> None:
        nonlocal count
        count += 1
        woken.set()

    receiver.start(asyncio.get_running_loop(), on_wake)
    try:
        await asyncio.wait_for(woken.wait(), 10)  # connected (a doorbell is at once, silently)
        await asyncio.sleep(0.2)
        count = 0
        woken.clear()
        waker = create_waker(waker_settings)
        for _ in range(asked):
            waker.wake()
        await asyncio.wait_for(woken.wait(), 5)
        await asyncio.sleep(0.3)
        return count
    finally:
        await asyncio.to_thread(receiver.stop)


@pytest.mark.parametrize("carrier", ["postgresql", "redis"])
async def test_a_wakeup_reaches_a_receiver_on_another_connection(tmp_path: Path, carrier: str):
    values = {"postgresql": {"database_url": postgres_url()}, "redis": {"queue_url": redis_url()}}[carrier]
    settings = _settings(tmp_path, **values)
    assert wakeup_backend(settings) == carrier
    # The waker is another process's: it shares only the URL and prefix, no folder.
    elsewhere = settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    wakes = await _wakes(settings, elsewhere, asked=50)
    assert 1 <= wakes <= 5, f"50 wake-ups asked for at once arrived as {wakes}"


async def test_a_redis_receiver_reconnects_after_a_restart_and_wakes_once_back(tmp_path: Path):
    with private_redis(tmp_path / "redis") as server:
        settings = _settings(tmp_path, queue_url=server.url)
        receiver = create_wakeup_receiver(settings)
        wakes = asyncio.Queue()
        receiver.start(asyncio.get_running_loop(), lambda: wakes.put_nowait(1))
        try:
            await asyncio.wait_for(wakes.get(), 10)
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(wakes.get(), 10)  # reconnected: look again
            while not wakes.empty():
                wakes.get_nowait()
            await asyncio.sleep(0.3)
            create_waker(settings).wake()
            await asyncio.wait_for(wakes.get(), 5)
        finally:
            await asyncio.to_thread(receiver.stop)
