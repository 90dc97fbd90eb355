"""A trainee message waiting for its reply, written as the web process writes one, for
tests of the worker's reply job."""

from __future__ import annotations

from shared.conversation.writes import accept_trainee_message, write_opening_line
from shared.db import sessions as session_rows
from shared.db.scenario_rows import upsert_scenario
from shared.masking.policy import MaskingPolicy
from worker.runtime import WorkerRuntime


def queued_message(runtime: WorkerRuntime, content: str = "Sorry to hear that.") -> tuple[int, int]:
    """A customer-service session with its opening line and one trainee message whose
    reply job is queued: (session id, message id)."""
    with runtime.write_engine.begin() as conn:
        scenario_id = upsert_scenario(conn, slug="customer-service", title="t", config={}, file_path="x")
        session_id = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
        write_opening_line(conn, session_id=session_id, content="I can't log in.")
        accepted = accept_trainee_message(
            conn,
            session_id=session_id,
            content=content,
            client_message_id=None,
            masking=MaskingPolicy(enabled=False, secret=b"k"),
            reply_expiry_seconds=60,
        )
    return session_id, accepted.message_id
