"""Hypercorn settings for the web process (`--config python:web.hypercorn_config`).

The app enforces its own, smaller frame limit (CHATTRAIN_MAX_FRAME_BYTES) with an error
frame; this hard cap only stops a client from making the server buffer megabytes."""

import logging
import os
import socket

from shared.settings import DEFAULT_HOST


def _setting_error(message: str) -> SystemExit:
    """Hypercorn reads this module before the app's settings: a wrong value here also ends
    the process with one line naming it, not a traceback."""
    return SystemExit(f"chattrain web: {message}")


# Loopback unless CHATTRAIN_HOST says otherwise (0.0.0.0 or :: to listen on every interface).
_host, _port = os.environ.get("CHATTRAIN_HOST", DEFAULT_HOST), os.environ.get("PORT", "8000")
if not (_port.isascii() and _port.isdigit() and 0 < int(_port) < 65536):
    raise _setting_error(f"PORT: {_port!r} is not a port number (1-65535)")
try:
    socket.getaddrinfo(_host.strip("[]"), int(_port), type=socket.SOCK_STREAM)
except OSError as error:
    raise _setting_error(f"CHATTRAIN_HOST: cannot listen on {_host} ({error.strerror})") from None
bind = [f"{_host}:{_port}"]
websocket_max_message_size = 1024 * 1024
try:
    websocket_ping_interval = float(os.environ.get("CHATTRAIN_WS_PING_INTERVAL_SECONDS", "20"))
except ValueError:
    raise _setting_error("CHATTRAIN_WS_PING_INTERVAL_SECONDS: not a number of seconds") from None
worker_class = "uvloop"
# Serve in this process: no supervisor process and no spawned child, so the Procfile's
# process is the server (signals reach it directly) and nothing is paid twice in memory.
# Scale out by running more web processes.
workers = 0
accesslog = None
# Hypercorn's own lines (start-up, errors) through ChatTrain's handler, in its format (text
# or JSON: shared/lib/logs.py), rather than a handler of Hypercorn's own on stderr.
errorlog = logging.getLogger("hypercorn.error")
# On SIGTERM, in-flight HTTP requests (milliseconds each) get a second to finish; chat
# sockets are cut and their clients resume with ?after=, losing nothing.
graceful_timeout = 1
