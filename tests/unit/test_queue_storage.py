"""The queue storage's dequeue: FIFO, one transaction per task, and every idle consumer
thread is woken by a ring, so no job waits for the fallback poll."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from huey.storage import SqliteStorage

from shared.settings import Settings
from worker.queue import create_queue_storage


def _storage(tmp_path: Path, poll_ms: int = 50, create: bool = True):  # noqa: ANN202
    settings = Settings(data_dir=tmp_path / "data", worker_poll_interval_ms=poll_ms)
    settings.data_dir.mkdir(parents=True, exist_ok=not create)
    return create_queue_storage(settings)


def test_take_next_is_fifo_and_says_whether_more_wait(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    for name in (b"first", b"second", b"third"):
        storage.enqueue(name)
    assert [storage._take_next() for _ in range(4)] == [
        (b"first", True), (b"second", True), (b"third", False), (None, False)
    ]
    storage.close_doorbell()


def test_a_look_after_a_ring_goes_straight_to_the_write_and_a_poll_reads_first(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.enqueue(b"job")
    statements: list[str] = []
    storage.conn.set_trace_callback(statements.append)
    assert storage._take_next(rang=True) == (b"job", False)
    assert not [sql for sql in statements if sql.startswith("select 1")]
    statements.clear()
    assert storage._take_next() == (None, False)
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
    """Each ring wakes an idle thread: a job must not wait for the fallback poll because
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
    # Far below the 10 s poll: each was taken on its ring, while the earlier ones were busy.
    assert max(at for _, at in taken) - enqueued_at < 2.0
    for thread in threads:
        thread.join(5)
    worker_side.close_doorbell()


def test_a_thread_that_takes_a_job_with_another_behind_it_wakes_a_waiting_thread(tmp_path: Path) -> None:
    """The ring meant for the second job may have been drained by the thread that took
    the first; that thread rings again, so a waiting thread takes the second at once."""
    storage = _storage(tmp_path, poll_ms=10_000)
    taken: list = []
    stop = threading.Event()
    waiting = _consumer_threads(storage, 1, busy_seconds=3.0, taken=taken, stop=stop)
    time.sleep(0.3)  # it is waiting on the doorbell
    for name in (b"one", b"two"):  # queued without a ring, as if its ring had been drained
        SqliteStorage.enqueue(storage, name)
    assert storage.dequeue() == b"one"
    _wait_until(lambda: len(taken) == 1, timeout=2.0)  # far below the 10 s poll
    assert taken[0][0] == b"two"
    stop.set()
    waiting[0].join(5)
    storage.close_doorbell()


def _wait_until(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_the_consumer_never_looks_up_revocations_and_refuses_to_revoke(tmp_path: Path) -> None:
    import pytest

    from worker.queue import create_huey

    huey = create_huey(Settings(data_dir=tmp_path / "data"))

    @huey.task()
    def noop() -> None:
        pass

    task = noop.s()
    lookups = []
    huey.storage.peek_many = lambda keys: lookups.append(keys) or {}
    assert huey.is_revoked(task) is False
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


def test_take_queued_removes_only_wanted_messages_oldest_first(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    for name in (b"reply-1", b"report-1", b"reply-2", b"reply-3"):
        storage.enqueue(name)
    assert storage.take_queued(lambda data: data.startswith(b"reply"), 2) == [b"reply-1", b"reply-2"]
    assert storage.take_queued(lambda data: False, 5) == []
    assert [storage._take_next()[0] for _ in range(3)] == [b"report-1", b"reply-3", None]
    assert storage.take_queued(lambda data: True, 5) == []
    storage.close_doorbell()


def test_a_dequeue_tells_once_whether_another_task_was_behind_it(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    assert storage.saw_more_behind()  # nothing dequeued yet: cannot tell
    storage.enqueue(b"first")
    storage.enqueue(b"second")
    assert storage.dequeue() == b"first"
    assert storage.saw_more_behind()
    assert storage.dequeue() == b"second"
    assert not storage.saw_more_behind()
    assert storage.saw_more_behind()  # asked again: cannot tell
    storage.close_doorbell()
