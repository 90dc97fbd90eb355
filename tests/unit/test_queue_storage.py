"""The queue storage's dequeue: FIFO, one transaction per task, and it tells whether
another task is waiting (which wakes a second worker thread)."""

from __future__ import annotations

import threading
from pathlib import Path

from shared.settings import Settings
from worker.queue import create_queue_storage


def _storage(tmp_path: Path):  # noqa: ANN202
    settings = Settings(data_dir=tmp_path / "data", worker_poll_interval_ms=50)
    settings.data_dir.mkdir(parents=True)
    return create_queue_storage(settings)


def test_take_next_is_fifo_and_says_whether_more_wait(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    for name in (b"first", b"second", b"third"):
        storage.enqueue(name)
    assert [storage._take_next() for _ in range(4)] == [
        (b"first", True), (b"second", True), (b"third", False), (None, False)
    ]
    storage.close_doorbell()


def test_a_waiting_thread_is_woken_while_tasks_remain(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.enqueue(b"one")
    storage.enqueue(b"two")
    woken = threading.Event()

    def second_thread() -> None:
        with storage._baton:
            if storage._baton.wait(5):
                woken.set()

    waiter = threading.Thread(target=second_thread)
    waiter.start()
    while not storage._baton._waiters:  # the second thread is waiting on the baton
        pass
    assert storage.dequeue() == b"one"  # one more is queued: the baton is passed
    waiter.join(5)
    assert woken.is_set()
    assert storage.dequeue() == b"two"
    storage.close_doorbell()


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
