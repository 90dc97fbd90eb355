"""The worker's wake-ups to the web processes: folded while one is pending, never lost."""

from __future__ import annotations

import threading
import time

from shared.wakeups.doorbell import FoldingWaker


class _SlowSender:
    """Counts wake-ups sent; each takes a while, as waking another process does under load."""

    def __init__(self) -> None:
        self.sent = 0
        self.sending = threading.Event()

    def send(self) -> int:
        self.sending.set()
        time.sleep(0.05)
        self.sent += 1
        return 1


def _wait_until(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_wakeups_asked_for_while_one_is_pending_are_folded_and_the_last_is_still_sent() -> None:
    slow = _SlowSender()
    folding = FoldingWaker(slow.send)
    folding.wake()
    slow.sending.wait(5)  # the first wake-up is under way
    for _ in range(100):  # a burst of writes meanwhile
        folding.wake()
    _wait_until(lambda: slow.sent == 2)
    time.sleep(0.2)
    assert slow.sent == 2  # the burst cost one more wake-up, sent after it


def test_a_wakeup_asked_for_after_the_last_one_was_sent_is_sent_too() -> None:
    slow = _SlowSender()
    folding = FoldingWaker(slow.send)
    for expected in (1, 2, 3):
        folding.wake()
        _wait_until(lambda expected=expected: slow.sent == expected)
