"""Logging to stdout, one line per event. Messages put the session id in the text as
`session_id=N` so a grep finds a session's whole story across both processes."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if getattr(root, "_chattrain_configured", False):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers = [handler]
    # DEBUG is for ChatTrain's own lines (one per message and reply); the libraries stay
    # at INFO, so a DEBUG run shows the conversation's story, not their internals.
    chattrain_level = logging.getLevelName(level.upper())
    root.setLevel(max(chattrain_level, logging.INFO))
    logging.getLogger("chattrain").setLevel(chattrain_level)
    root._chattrain_configured = True  # type: ignore[attr-defined]
