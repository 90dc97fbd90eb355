"""The worker's rings to the web processes: folded while one is pending, never lost."""

from __future__ import annotations

import threading
import time

from shared.wakeups.doorbell import FoldingRinger


class _SlowRinger:
    """Counts rings; each takes a while, as waking another process does under load."""

    def __init__(self) -> None:
        self.rings = 0
        self.ringing = threading.Event()

    def ring(self) -> int:
        self.ringing.set()
        time.sleep(0.05)
        self.rings += 1
        return 1


def _wait_until(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_rings_asked_for_while_one_is_pending_are_folded_and_the_last_is_still_sent() -> None:
    slow = _SlowRinger()
    folding = FoldingRinger(slow)
    folding.ring()
    slow.ringing.wait(5)  # the first ring is under way
    for _ in range(100):  # a burst of writes meanwhile
        folding.ring()
    _wait_until(lambda: slow.rings == 2)
    time.sleep(0.2)
    assert slow.rings == 2  # the burst cost one more ring, sent after it


def test_a_ring_asked_for_after_the_last_one_was_sent_is_sent_too() -> None:
    slow = _SlowRinger()
    folding = FoldingRinger(slow)
    for expected in (1, 2, 3):
        folding.ring()
        _wait_until(lambda expected=expected: slow.rings == expected)
