"""The web side of the queue: enqueue a reply job or a session's evaluation, read the
queue's depth.

Tasks are serialised by the consumer's Huey instance (`worker.tasks` and
`worker.evaluation`, the same module paths the consumer imports, because Huey's registry
keys tasks by module and name), and written to the queue file these settings name."""

from __future__ import annotations

from shared.settings import Settings
from worker.queue import create_queue_storage


class ReplyQueue:
    def __init__(self, settings: Settings) -> None:
        from worker.evaluation import evaluate_session
        from worker.huey_app import huey
        from worker.tasks import generate_reply

        self._serialize = huey.serialize_task
        self._generate_reply = generate_reply
        self._evaluate_session = evaluate_session
        self._storage = create_queue_storage(settings, huey.name)

    def enqueue(self, message_id: int) -> None:
        """Prompt a worker to write the reply to this message (and ring its doorbell)."""
        self._storage.enqueue(self._serialize(self._generate_reply.s(message_id)))

    def enqueue_evaluation(self, session_id: int) -> None:
        """Prompt a worker to write the report of this completed session."""
        self._storage.enqueue(self._serialize(self._evaluate_session.s(session_id)))

    def pending_count(self) -> int:
        return self._storage.queue_size()
