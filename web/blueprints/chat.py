"""WS /chat/<session_id>: step one of a message's path, and the socket's side of step three.

On connect the server sends `session_start` by itself, as the original ChatTrain server
did. The handler's task then receives: it validates each frame, stores a trainee message
(masked, with its reply job) in one short transaction, enqueues the reply job and
acknowledges.
The socket's Subscriber sends: direct frames and the session's events from the tailer,
from a task that exists only while it has frames to send. A bad frame gets an
error frame; the connection stays usable.

The socket is authenticated before it is accepted (web/auth.py); a session the user may
not see is closed exactly like one that does not exist. Trainers may watch any session,
but only its trainee writes to it."""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from quart import Blueprint, current_app, g, websocket

from shared.conversation.frames import ack_frame, error_frame, pong_frame, session_start_frame
from shared.conversation.writes import (
    SESSION_ENDED,
    ConversationError,
    accept_trainee_message,
    end_session,
    retry_reply,
)
from shared.db.engine import DatabaseUnavailable
from shared.db.events import select_session_last_seq, select_session_replay
from shared.db.limits import LimitExceeded, RateLimit
from shared.db.sessions import complete_session
from shared.training.completion import TIME_UP, TRAINEE_ENDED, time_is_up
from web.auth import require_socket_user, socket_subprotocol, visible_session
from web.client_frames import (
    ClientFrame,
    RetryMetadata,
    SessionStartMetadata,
    UserMessageMetadata,
    check_message_content,
    parse_after,
    parse_client_frame,
    parse_metadata,
    without_nul,
)
from web.errors import UNAVAILABLE_DETAIL, UNAVAILABLE_RETRY_AFTER_SECONDS
from web.revocation import SocketEnding, close_revoked_socket
from web.tailer import Subscriber

log = logging.getLogger("chattrain.web")

blueprint = Blueprint("chat", __name__)

CLOSE_SESSION_NOT_FOUND = 4404
CLOSE_IDLE_TIMEOUT = 4408
# Frames that change the session: only its owner may send them.
WRITE_FRAME_TYPES = ("user_message", "retry", "end_session")


# What a client of the original protocol is sent from the session's events: it offers no
# subprotocol, and reads a reply (and an acknowledgement, with `content`) per message it
# sends, so typing, deltas and training frames would be read as the reply
# (docs/protocol.md, "Clients of the original protocol").
SEED_EVENT_TYPES = frozenset({"assistant_message", "error"})


class ChatConnection:
    """One socket on one session."""

    def __init__(
        self, app, session: dict, scenario, send, user: dict | None = None, *, seed_protocol: bool = False
    ) -> None:  # noqa: ANN001
        self.app = app
        self.settings = app.config["CHATTRAIN_SETTINGS"]
        self.session_id = session["id"]
        self.read_only = user is not None and session["user_id"] != user["id"] and not user.get("insecure")
        self.message_limit = RateLimit(
            "message", self.settings.messages_per_window, self.settings.message_window_seconds
        )
        self.scenario = scenario
        self.started_at = session["created_at"]
        self.subscriber = Subscriber(self.session_id, send, event_types=SEED_EVENT_TYPES if seed_protocol else None)
        self.subscribed = False
        # The last_event_id of the session_start sent on connect: a socket whose first
        # frame is not session_start receives every event after it (docs/protocol.md).
        self.announced_last_event_id = 0
        self.credentials_revoked = False  # see _revoke_socket

    async def subscribe(self, after: int) -> None:
        """Replay the session's events after `after`, then follow the live tail."""
        if self.subscribed:
            return
        self.subscribed = True
        self.subscriber.begin_replay()
        self.app.tailer.subscribe(self.subscriber)
        replayed = []
        try:
            cursor, replayed = await self.app.db.read(select_session_replay, self.session_id, after)
            self.subscriber.last_event_id = cursor
        finally:
            self.subscriber.end_replay(replayed)

    async def announce(self) -> None:
        """Send session_start unasked, as the original server did on connect."""
        self.announced_last_event_id = await self.app.db.read(select_session_last_seq, self.session_id)
        self.send(session_start_frame(self.session_id, self.announced_last_event_id, self.scenario.public_view()))

    def close(self) -> None:
        if self.subscribed:
            self.app.tailer.unsubscribe(self.subscriber)
        self.subscriber.close()

    def send(self, text: str) -> None:
        self.subscriber.send_direct(text)

    async def handle(self, raw: str | bytes) -> None:
        try:
            frame = parse_client_frame(raw, max_frame_bytes=self.settings.max_frame_bytes)
            if not self.subscribed and frame.type != "session_start":
                # A client that never sends session_start (the original protocol's clients
                # need not) follows the session from what the connect announced.
                await self.subscribe(self.announced_last_event_id)
            if self.read_only and frame.type in WRITE_FRAME_TYPES:
                raise ConversationError(
                    "read_only", "Only the session's trainee can do that; you may watch this session."
                )
            await getattr(self, f"on_{frame.type}")(frame)
        except ConversationError as error:
            self.send(error_frame(error.code, error.message))
        except LimitExceeded as error:
            self.send(error_frame(error.code, error.detail, retry_after_seconds=error.retry_after_seconds))
        except DatabaseUnavailable:
            self.send(
                error_frame("unavailable", UNAVAILABLE_DETAIL, retry_after_seconds=UNAVAILABLE_RETRY_AFTER_SECONDS)
            )

    async def on_session_start(self, frame: ClientFrame) -> None:
        metadata = parse_metadata(SessionStartMetadata, frame.metadata)
        last_event_id = await self.app.db.read(select_session_last_seq, self.session_id)
        self.send(session_start_frame(self.session_id, last_event_id, self.scenario.public_view()))
        await self.subscribe(metadata.last_event_id or 0)

    async def on_ping(self, frame: ClientFrame) -> None:
        self.send(pong_frame())

    async def on_user_message(self, frame: ClientFrame) -> None:
        metadata = parse_metadata(UserMessageMetadata, frame.metadata)
        check_message_content(frame.content, max_chars=self.settings.max_message_chars)
        content = without_nul(frame.content)
        await self.refuse_if_time_is_up()
        patterns = self.scenario.masking_rules  # its patterns and its fiction
        accepted = await self.app.db.write(
            accept_trainee_message,
            session_id=self.session_id,
            content=content,
            client_message_id=metadata.client_message_id,
            masking=self.app.masking,
            scenario_patterns=patterns,
            found=self.app.masking.find(content, patterns),
            reply_expiry_seconds=self.settings.reply_expiry_seconds,
            rate_limit=self.message_limit,
            lock_sessions=(self.session_id,),
        )
        # The ack is queued for the socket before the job is enqueued, so it comes before
        # any frame of the reply: a trainee always sees message_ack first.
        self.send(ack_frame(accepted.message_id, metadata.client_message_id, accepted.duplicate))
        if not accepted.duplicate:
            self.app.reply_queue.enqueue(accepted.message_id)
        log.debug(
            "trainee message stored session_id=%s message_id=%s duplicate=%s",
            self.session_id,
            accepted.message_id,
            accepted.duplicate,
        )

    async def on_retry(self, frame: ClientFrame) -> None:
        metadata = parse_metadata(RetryMetadata, frame.metadata)
        await self.refuse_if_time_is_up()
        await self.app.db.write(
            retry_reply,
            session_id=self.session_id,
            message_id=metadata.message_id,
            reply_expiry_seconds=self.settings.reply_expiry_seconds,
            lock_sessions=(self.session_id,),
        )
        self.app.reply_queue.enqueue(metadata.message_id)

    async def on_end_session(self, frame: ClientFrame) -> None:
        """The trainee ends the session: complete it and have a worker write the report,
        which arrives as a session_complete event. A second end_session is an error. Past
        the time limit the session ends as "time_up", as the worker's clock would end it."""
        ended_by = TIME_UP if time_is_up(self.scenario, self.started_at) else TRAINEE_ENDED
        await self.app.db.write(
            end_session, session_id=self.session_id, ended_by=ended_by, lock_sessions=(self.session_id,)
        )
        self.app.reply_queue.enqueue_evaluation(self.session_id)
        log.info("session ended by the trainee session_id=%s ended_by=%s", self.session_id, ended_by)

    async def refuse_if_time_is_up(self) -> None:
        """Past the scenario's duration, complete the session (ended_by "time_up"; the
        report follows as for end_session) and refuse the frame with session_completed."""
        if not time_is_up(self.scenario, self.started_at):
            return
        if not await self.app.db.write(
            complete_session, self.session_id, ended_by=TIME_UP, lock_sessions=(self.session_id,)
        ):
            raise ConversationError("session_completed", SESSION_ENDED)
        self.app.reply_queue.enqueue_evaluation(self.session_id)
        log.info("session completed, time is up session_id=%s", self.session_id)
        raise ConversationError(
            "session_completed",
            f"Time is up: this scenario lasts {self.scenario.duration_minutes} minutes, so the session has ended.",
        )


def _frame_sender(ws):  # noqa: ANN001, ANN202
    """Send a text frame straight to the ASGI server. Quart's `websocket.send` first yields
    to the event loop (`asyncio.sleep(0)`, for handlers that send in a tight loop) and
    re-checks the handshake, an extra loop turn per frame; the Subscriber already sends
    from its own task after the handshake, so it uses the connection's send directly."""
    return ws._send


@blueprint.websocket("/chat/<int:session_id>")
@require_socket_user
async def chat_socket(session_id: int) -> None:
    """The chat socket of one session (protocol: docs/protocol.md)."""
    app = current_app._get_current_object()
    ws = websocket._get_current_object()
    session = await visible_session(session_id)  # None when missing or not the user's to see
    scenario = app.catalog.by_id.get(session["scenario_id"]) if session else None
    subprotocol = socket_subprotocol()
    await ws.accept(subprotocol=subprotocol)
    if session is None or scenario is None:
        await ws.send(error_frame("session_not_found", f"No session {session_id}."))
        await ws.close(CLOSE_SESSION_NOT_FOUND, "session not found")
        return
    connection = ChatConnection(app, session, scenario, _frame_sender(ws), g.user, seed_protocol=subprotocol is None)
    del session  # the connection keeps what it needs; an idle socket should hold no more
    unwatch = app.credential_watch.watch(g.user, partial(_revoke_socket, ws, connection))
    app.open_sockets += 1
    try:
        await connection.announce()
        try:
            after = parse_after(websocket.args.get("after"))
        except ConversationError as error:
            connection.send(error_frame(error.code, error.message))
            after = None
        if after is not None:
            await connection.subscribe(after)
        await _receive_loop(ws, connection, idle_seconds=float(scenario.idle_timeout_seconds))
    finally:
        app.open_sockets -= 1
        unwatch()
        connection.close()


def _revoke_socket(ws, connection: ChatConnection, ending: SocketEnding):  # noqa: ANN001, ANN202
    """The credentials this socket was opened with stopped working while it was open (the
    token rotated, the user disabled, the browser signed out or its sign-in expired; the
    credential watch, web/revocation.py, calls this): refuse its frames from now on, and
    return the coroutine that closes it with an error frame saying why."""
    connection.credentials_revoked = True
    return close_revoked_socket(ws, connection.subscriber.close, ending)


async def _receive_loop(ws, connection: ChatConnection, *, idle_seconds: float) -> None:  # noqa: ANN001
    last_activity = time.monotonic()
    while True:
        remaining = idle_seconds - (time.monotonic() - last_activity)
        try:
            # asyncio.timeout, not wait_for: wait_for wraps the receive in a task of its
            # own, more memory held by every idle socket (docs/performance.md, Design
            # measurements).
            async with asyncio.timeout(max(remaining, 0.001)):
                raw = await ws.receive()
            if connection.credentials_revoked:
                continue  # refused: the socket is being closed (_revoke_socket)
        except TimeoutError:
            connection.send(error_frame("idle_timeout", f"No activity for {int(idle_seconds)} seconds; closing."))
            await connection.subscriber.flush(timeout=1.0)
            await ws.close(CLOSE_IDLE_TIMEOUT, "idle timeout")
            return
        try:
            await connection.handle(raw)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("frame handling failed session_id=%s", connection.session_id)
            connection.send(
                error_frame("internal_error", "Something went wrong handling that frame; nothing was lost.")
            )
        if not isinstance(raw, str) or '"ping"' not in raw:
            last_activity = time.monotonic()
