"""A request id for every HTTP request and socket, so the log lines one request caused
can be found together (shared/lib/logs.py puts it on each line in JSON mode).

An `X-Request-ID` sent by a proxy in front is kept when it looks like an id (letters,
digits and `._:-`, at most 128 characters), so one id follows the request through the
proxy's logs and ours; anything else is replaced by a fresh one rather than copied into
the logs. The id is echoed in the response's `X-Request-ID` header. The session a URL
names (`/api/sessions/<session_id>/...`, `/chat/<session_id>`) goes into the session id
of the same lines."""

from __future__ import annotations

import re
import uuid

from quart import Quart, request, websocket
from quart.wrappers import Response

from shared.lib.logs import request_id_var, session_id_var

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(header: str | None) -> str:
    """The incoming id when it is sane, else a new random one (32 hex digits)."""
    if header is not None and _SANE_ID.match(header):
        return header
    return uuid.uuid4().hex


def _bind(connection) -> None:  # noqa: ANN001
    request_id_var.set(request_id_from(connection.headers.get(REQUEST_ID_HEADER)))
    session_id = (connection.view_args or {}).get("session_id")
    session_id_var.set(session_id if isinstance(session_id, int) else None)


def install_request_ids(app: Quart) -> None:
    """Set the request and session ids before each request and socket handler runs
    (Quart runs them in the handler's own context, so every line it logs carries them),
    and echo the request id in each HTTP response."""

    @app.before_request
    async def bind_request() -> None:
        _bind(request)

    @app.before_websocket
    async def bind_socket() -> None:
        _bind(websocket)

    @app.after_request
    async def echo_request_id(response: Response) -> Response:
        request_id = request_id_var.get()
        if request_id is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
