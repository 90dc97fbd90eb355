"""The queue storage's dequeue: FIFO, one transaction per task, and idle consumer
workers take turns at the doorbell, so no job waits for the fallback poll."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from huey.storage import SqliteStorage

from shared.settings import Settings
from worker.queue_storage import create_queue_storage


def _storage(tmp_path: Path, poll_ms: int = 50, create: bool = True):  # noqa: ANN202
    settings = Settings(data_dir=tmp_path / "data", worker_poll_interval_ms=poll_ms)
    settings.data_dir.mkdir(parents=True, exist_ok=not create)
    return create_queue_storage(settings)


def test_take_next_is_fifo(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    for name in (b"first", b"second", b"third"):
        storage.enqueue(name)
    assert [storage._take_next() for _ in range(4)] == [b"first", b"second", b"third", None]
    storage.close_doorbell()


def test_a_look_after_a_wakeup_goes_straight_to_the_write_and_a_poll_reads_first(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.enqueue(b"job")
    statements: list[str] = []
    storage.conn.set_trace_callback(statements.append)
    assert storage._take_next(woken=True) == b"job"
    assert not [sql for sql in statements if sql.startswith("select 1")]
    statements.clear()
    assert storage._take_next() is None
    # The empty queue is seen by the read alone: no transaction takes the write lock.
    assert [sql.split()[0].lower() for sql in statements] == ["select"]
    storage.conn.set_trace_callback(None)
    storage.close_doorbell()


def _consumer_threads(storage, count: int, busy_seconds: float, taken: list, stop: threading.Event) -> list:  # noqa: ANN001
    """Threads that loop on dequeue like Huey's workers; each job keeps its thread busy
    for `busy_seconds`, as a slow LLM call would."""

    def loop() -> None:
        while not stop.is_set():
            data = storage.dequeue()
            if data is not None:
                taken.append((data, time.monotonic()))
                stop.wait(busy_seconds)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize("burst", [False, True])
def test_jobs_enqueued_while_one_thread_is_busy_wake_the_idle_ones(tmp_path: Path, burst: bool) -> None:
    """Each wake-up wakes an idle thread: a job must not wait for the fallback poll because
    the thread that used to watch the doorbell is busy with an earlier job."""
    worker_side = _storage(tmp_path, poll_ms=10_000)
    web_side = _storage(tmp_path, poll_ms=10_000, create=False)
    taken: list = []
    stop = threading.Event()
    threads = _consumer_threads(worker_side, 4, busy_seconds=3.0, taken=taken, stop=stop)
    time.sleep(0.3)  # all four are waiting
    enqueued_at = time.monotonic()
    if burst:
        for name in (b"one", b"two", b"three", b"four"):
            web_side.enqueue(name)
    else:
        web_side.enqueue(b"one")
        _wait_until(lambda: len(taken) == 1)
        for name in (b"two", b"three", b"four"):  # the first job's thread is busy now
            web_side.enqueue(name)
    _wait_until(lambda: len(taken) == 4, timeout=5.0)
    stop.set()
    assert sorted(name for name, _ in taken) == [b"four", b"one", b"three", b"two"]
    # Far below the 10 s poll: each was taken on its wake-up, while the earlier ones were busy.
    assert max(at for _, at in taken) - enqueued_at < 2.0
    for thread in threads:
        thread.join(5)
    worker_side.close_doorbell()


def test_a_job_queued_without_a_wakeup_is_taken_by_the_next_turn(tmp_path: Path) -> None:
    """A lost wake-up costs at most one poll interval: the waiter's poll ends its turn, and
    the next turn looks at the queue before it waits."""
    storage = _storage(tmp_path, poll_ms=200)
    taken: list = []
    stop = threading.Event()
    threads = _consumer_threads(storage, 3, busy_seconds=3.0, taken=taken, stop=stop)
    time.sleep(0.3)
    queued_at = time.monotonic()
    for name in (b"one", b"two"):
        SqliteStorage.enqueue(storage, name)  # no wake-up
    _wait_until(lambda: len(taken) == 2, timeout=3.0)
    assert max(at for _, at in taken) - queued_at < 1.5
    stop.set()
    for thread in threads:
        thread.join(5)
    storage.close_doorbell()


def _wait_until(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_the_consumer_never_looks_up_revocations_and_refuses_to_revoke(tmp_path: Path) -> None:
    import pytest
    from huey.storage import MemoryStorage

    from worker.queue_storage import ChatTrainHuey

    huey = ChatTrainHuey("chattrain-test", results=False, utc=True, storage_class=MemoryStorage)
    huey.storage = create_queue_storage(Settings(data_dir=tmp_path / "data"), huey.name)

    @huey.task()
    def noop() -> None:
        pass

    task = noop.s()
    lookups = []
    huey.storage.peek_many = lambda keys: lookups.append(keys) or {}
    huey.storage.pop_data = lambda key: lookups.append(key)
    assert huey.is_revoked(task) is False
    huey.execute(task)  # which would clear the task's revocation flag afterwards
    assert lookups == []
    with pytest.raises(NotImplementedError):
        huey.revoke(task)
    with pytest.raises(NotImplementedError):
        noop.revoke()


def test_a_poll_interval_of_zero_is_refused() -> None:
    """The worker's poll interval is a receive timeout, where 0 would mean none at all."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="worker_poll_interval_ms"):
        Settings(worker_poll_interval_ms=0)
