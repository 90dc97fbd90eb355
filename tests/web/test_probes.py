"""GET /livez and GET /readyz on the real app: anonymous, cheap, and a 503 that names
the failed check without an address in it. (Stopping the real servers and processes:
tests/e2e/test_readiness.py.)"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager

from shared.db.workers import upsert_worker_heartbeat
from shared.settings import Settings
from tests.support.stack import REPO_ROOT
from web import readiness
from web.database import Database
from web.readiness import ReadinessProbe
from web.reply_queue import ReplyQueue


async def _beat(app, worker_id: str = "worker-1") -> None:  # noqa: ANN001
    await app.app.db.write(
        upsert_worker_heartbeat, worker_id=worker_id, host="host-a", pid=1, started_at="2026-01-01", now=time.time()
    )


async def test_livez_answers_anyone_without_touching_the_database(client, app):
    await app.app.db.close()  # no database at all: liveness does not care
    response = await client.get("/livez")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


async def test_readyz_is_503_naming_the_workers_while_no_worker_has_beaten(client, settings):
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["status"] == "unready" and body["failed"] == ["workers"]
    assert body["checks"]["database"]["ok"] is True and body["checks"]["queue"]["ok"] is True
    assert "heartbeat" in body["checks"]["workers"]["detail"]
    text = await response.get_data(as_text=True)
    assert str(settings.data_dir.resolve()) not in text and "sqlite" not in text


async def test_readyz_is_200_once_a_worker_has_beaten(client, app):
    await _beat(app)
    response = await client.get("/readyz")
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body == {
        "status": "ready",
        "checks": {
            "database": {"ok": True, "detail": None, "latency_ms": body["checks"]["database"]["latency_ms"]},
            "queue": {"ok": True, "detail": None, "latency_ms": body["checks"]["queue"]["latency_ms"]},
            "workers": {"ok": True, "detail": "1 live", "latency_ms": None},
        },
        "failed": [],
    }


async def test_a_verdict_is_reused_within_the_cache_window_then_evaluated_again(client, app, monkeypatch):
    monkeypatch.setattr(readiness, "CACHE_SECONDS", 3600.0)
    assert (await client.get("/readyz")).status_code == 503
    await _beat(app)
    assert (await client.get("/readyz")).status_code == 503  # the kept verdict
    monkeypatch.setattr(readiness, "CACHE_SECONDS", 0.0)
    assert (await client.get("/readyz")).status_code == 200


async def test_concurrent_probes_share_one_evaluation(app):
    probe = app.app.readiness
    calls = 0
    check = probe._check_queue

    async def counted():  # noqa: ANN202
        nonlocal calls
        calls += 1
        return await check()

    probe._check_queue = counted
    verdicts = await asyncio.gather(*(probe.verdict() for _ in range(20)))
    assert calls == 1
    assert all(verdict is verdicts[0] for verdict in verdicts)


@contextmanager
def _silent_server():
    """A TCP server that accepts connections and never says a word: a database that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        listener.close()


async def test_a_database_that_hangs_fails_the_check_in_bounded_time_without_stacking_calls(tmp_path, monkeypatch):
    monkeypatch.setattr(readiness, "CACHE_SECONDS", 0.0)
    settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")
    settings.data_dir.mkdir(parents=True)
    with _silent_server() as port:
        db = Database(f"postgresql+psycopg://chattrain:secret-password@127.0.0.1:{port}/chattrain")
        queue = ReplyQueue(settings)
        probe = ReadinessProbe(db, queue, settings)
        try:
            first = await probe.verdict()
            second = await probe.verdict()  # the first read still waits on its thread
        finally:
            queue.close()
    for verdict in (first, second):
        assert verdict.status == "unready" and verdict.failed == ["database", "workers"]
        assert verdict.checks["queue"].ok is True
        assert verdict.checks["workers"].ok is None
        assert "secret-password" not in verdict.model_dump_json() and str(port) not in verdict.model_dump_json()
    assert first.checks["database"].detail == f"database: no answer within {readiness.CHECK_TIMEOUT_SECONDS:g} s"
    assert second.checks["database"].detail.startswith("database: the previous check has not answered")


async def test_a_removed_queue_file_fails_the_queue_check(client, app, settings, monkeypatch):
    monkeypatch.setattr(readiness, "CACHE_SECONDS", 0.0)
    await _beat(app)
    assert (await client.get("/readyz")).status_code == 200
    queue_file = settings.queue_file
    for path in (
        queue_file,
        queue_file.with_name(queue_file.name + "-wal"),
        queue_file.with_name(queue_file.name + "-shm"),
    ):
        path.unlink(missing_ok=True)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["failed"] == ["queue"] and body["checks"]["queue"]["detail"].startswith("queue: failed")
    assert str(queue_file) not in await response.get_data(as_text=True)
