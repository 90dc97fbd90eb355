"""Hypercorn settings for the web process (`--config python:web.hypercorn_config`).

The app enforces its own, smaller frame limit (CHATTRAIN_MAX_FRAME_BYTES) with an error
frame; this hard cap only stops a client from making the server buffer megabytes."""

import logging
import os

from shared.settings import DEFAULT_HOST

# Loopback unless CHATTRAIN_HOST says otherwise (0.0.0.0 or :: to listen on every interface).
bind = [f"{os.environ.get('CHATTRAIN_HOST', DEFAULT_HOST)}:{os.environ.get('PORT', '8000')}"]
websocket_max_message_size = 1024 * 1024
websocket_ping_interval = float(os.environ.get("CHATTRAIN_WS_PING_INTERVAL_SECONDS", "20"))
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
