"""Wake-ups across hosts (shared/wakeups/channels.py), on the real servers: an announcement wakes
a listener through PostgreSQL NOTIFY or Redis pub/sub, announcements made together
become few wake-ups, and a listener that loses Redis reconnects and wakes once back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.settings import Settings
from shared.wakeups.channels import create_announcer, create_listener, wakeup_backend
from tests.support.servers import postgres_url, private_redis, redis_url, unique_prefix


def _settings(tmp_path: Path, **values) -> Settings:  # noqa: ANN003
    return Settings(data_dir=tmp_path / "data", redis_key_prefix=unique_prefix(), **values)


def test_the_carrier_follows_the_data_then_the_queue(tmp_path: Path):
    assert wakeup_backend(Settings(data_dir=tmp_path)) == "doorbell"
    assert wakeup_backend(Settings(data_dir=tmp_path, queue_url="redis://h/0")) == "redis"
    both = Settings(data_dir=tmp_path, queue_url="redis://h/0", database_url="postgresql+psycopg://u@h/db")
    assert wakeup_backend(both) == "postgresql"


async def _wakes(listener_settings: Settings, announcer_settings: Settings, announcements: int = 1) -> int:
    """Start a listener, make `announcements` announcements at once, and count the
    wake-ups that follow (after the one each listener gives when it connects)."""
    listener = create_listener(listener_settings)
    woken = asyncio.Event()
    count = 0

    def on_wake() -> None:
        nonlocal count
        count += 1
        woken.set()

    listener.start(asyncio.get_running_loop(), on_wake)
    try:
        await asyncio.wait_for(woken.wait(), 10)  # connected (a doorbell is at once, silently)
        await asyncio.sleep(0.2)
        count = 0
        woken.clear()
        announcer = create_announcer(announcer_settings)
        for _ in range(announcements):
            announcer.announce()
        await asyncio.wait_for(woken.wait(), 5)
        await asyncio.sleep(0.3)
        return count
    finally:
        await asyncio.to_thread(listener.stop)


@pytest.mark.parametrize("carrier", ["postgresql", "redis"])
async def test_an_announcement_wakes_a_listener_on_another_connection(tmp_path: Path, carrier: str):
    values = {"postgresql": {"database_url": postgres_url()}, "redis": {"queue_url": redis_url()}}[carrier]
    settings = _settings(tmp_path, **values)
    assert wakeup_backend(settings) == carrier
    # The announcer is another process's: it shares only the URL and prefix, no folder.
    elsewhere = settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    wakes = await _wakes(settings, elsewhere, announcements=50)
    assert 1 <= wakes <= 5, f"50 announcements at once made {wakes} wake-ups"


async def test_a_redis_listener_reconnects_after_a_restart_and_wakes_once_back(tmp_path: Path):
    with private_redis(tmp_path / "redis") as server:
        settings = _settings(tmp_path, queue_url=server.url)
        listener = create_listener(settings)
        wakes = asyncio.Queue()
        listener.start(asyncio.get_running_loop(), lambda: wakes.put_nowait(1))
        try:
            await asyncio.wait_for(wakes.get(), 10)
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(wakes.get(), 10)  # reconnected: look again
            while not wakes.empty():
                wakes.get_nowait()
            await asyncio.sleep(0.3)
            create_announcer(settings).announce()
            await asyncio.wait_for(wakes.get(), 5)
        finally:
            await asyncio.to_thread(listener.stop)
