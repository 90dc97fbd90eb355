"""The per-socket pieces kept small for memory: the Subscriber's on-demand sender and the
receive queue that replaces Quart's asyncio.Queue."""

from __future__ import annotations

import asyncio

import pytest

from shared.conversation.frames import event_text
from shared.db.events import StoredEvent
from web.tailer import Subscriber
from web.ws_connection import ReceiveQueue


def _event(event_id: int, session_id: int = 1) -> StoredEvent:
    return StoredEvent(event_id, session_id, "assistant_message", f'{{"content":"reply {event_id}"}}', seq=event_id)


class SlowSocket:
    """Records frames; each send yields to the loop, as a real socket write may."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail = False

    async def send(self, text: str) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("gone")
        self.sent.append(text)


async def test_frames_go_out_in_order_and_no_task_is_left_when_idle() -> None:
    socket = SlowSocket()
    subscriber = Subscriber(1, socket.send)
    assert subscriber._sender is None
    subscriber.send_direct("ack")
    subscriber.deliver(_event(5))
    subscriber.deliver(_event(5))  # a duplicate event is not sent twice
    subscriber.deliver(_event(6))
    await subscriber.flush(timeout=5)
    subscriber.send_direct("later")  # queued after the first burst: a new sender runs
    await subscriber.flush(timeout=5)
    assert socket.sent == ["ack", event_text(_event(5)), event_text(_event(6)), "later"]
    assert subscriber._sender is None


async def test_frames_queued_while_sending_join_the_same_burst() -> None:
    socket = SlowSocket()
    subscriber = Subscriber(1, socket.send)
    subscriber.send_direct("one")
    await asyncio.sleep(0)  # the sender is now inside its first send
    subscriber.send_direct("two")
    await subscriber.flush(timeout=5)
    assert socket.sent == ["one", "two"]


async def test_a_failed_send_drops_the_rest_and_a_closed_subscriber_sends_nothing() -> None:
    socket = SlowSocket()
    subscriber = Subscriber(1, socket.send)
    socket.fail = True
    subscriber.send_direct("lost")
    subscriber.send_direct("also lost")
    await subscriber.flush(timeout=5)
    assert socket.sent == [] and subscriber._sender is None
    socket.fail = False
    subscriber.close()
    subscriber.send_direct("after close")
    await subscriber.flush(timeout=5)
    assert socket.sent == []


async def test_replayed_and_live_events_are_merged_without_duplicates() -> None:
    socket = SlowSocket()
    subscriber = Subscriber(1, socket.send)
    subscriber.begin_replay()
    subscriber.deliver(_event(3))  # live, while the replay is being read
    subscriber.end_replay([_event(2), _event(3)])
    await subscriber.flush(timeout=5)
    assert socket.sent == [event_text(_event(2)), event_text(_event(3))]


async def test_receive_queue_hands_items_over_in_order() -> None:
    queue = ReceiveQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    await queue.put("a")
    queue.put_nowait("b")
    assert await getter == "a"
    assert await queue.get() == "b"
    assert queue.qsize() == 0


async def test_receive_queue_survives_a_cancelled_get() -> None:
    queue = ReceiveQueue()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await queue.get()
    await queue.put("after the timeout")
    assert await queue.get() == "after the timeout"
