"""Logging to stdout, one line per event. Messages put the session id in the text as
`session_id=N` so a grep finds a session's whole story across both processes.

Two formats (CHATTRAIN_LOG_FORMAT): `text`, for people reading a terminal, and `json`,
one object per line for a log collector, with the request id of the HTTP request or
socket the line was written for and the session id as fields of their own. Both ids
travel in context variables, set by the web process per request (web/request_ids.py);
where a line was written outside one (the worker, the tailer), the session id is taken
from the `session_id=N` its text carries."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# The request (or socket) a line is written for, and the session it concerns.
request_id_var: ContextVar[str | None] = ContextVar("chattrain_request_id", default=None)
session_id_var: ContextVar[int | None] = ContextVar("chattrain_session_id", default=None)

_SESSION_IN_TEXT = re.compile(r"\bsession_id=(\d{1,19})\b")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, milliseconds), level, logger, message, the
    request and session ids when known, and the traceback of an exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        session_id = session_id_var.get()
        if session_id is None and (found := _SESSION_IN_TEXT.search(message)):
            session_id = int(found.group(1))
        if session_id is not None:
            line["session_id"] = session_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        # default=str: a log line never fails for an odd argument.
        return json.dumps(line, ensure_ascii=False, default=str)


def make_formatter(log_format: str = "text") -> logging.Formatter:
    """The formatter of CHATTRAIN_LOG_FORMAT: `json` or `text`."""
    if log_format == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    root = logging.getLogger()
    if getattr(root, "_chattrain_configured", False):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(make_formatter(log_format))
    root.handlers = [handler]
    # Python's warnings as log lines in the same format, not bare text on stderr.
    logging.captureWarnings(True)
    # DEBUG is for ChatTrain's own lines (one per message and reply); the libraries stay
    # at INFO, so a DEBUG run shows the conversation's story, not their internals.
    chattrain_level = logging.getLevelName(level.upper())
    root.setLevel(max(chattrain_level, logging.INFO))
    logging.getLogger("chattrain").setLevel(chattrain_level)
    root._chattrain_configured = True  # type: ignore[attr-defined]
    root._chattrain_log_format = log_format  # type: ignore[attr-defined]


def adopt_handlers(logger: logging.Logger) -> None:
    """Give the handlers a library attached to its own logger (huey_consumer does) the
    format configured for ChatTrain's lines, so that in JSON mode every line is JSON."""
    log_format = getattr(logging.getLogger(), "_chattrain_log_format", "text")
    if log_format == "text":
        return  # the library's own text format is left as it was
    for handler in logger.handlers:
        handler.setFormatter(make_formatter(log_format))
