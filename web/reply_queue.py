"""The web side of the queue: enqueue a reply job, read the queue's depth.

The task is imported through `worker.tasks`, the same module path the consumer uses,
because Huey's registry keys tasks by module and name."""

from __future__ import annotations


class ReplyQueue:
    def __init__(self) -> None:
        from worker.huey_app import huey
        from worker.tasks import generate_reply

        self._huey = huey
        self._generate_reply = generate_reply

    def enqueue(self, message_id: int) -> None:
        """Prompt a worker to write the reply to this message (and ring its doorbell)."""
        self._generate_reply(message_id)

    def pending_count(self) -> int:
        return self._huey.pending_count()
