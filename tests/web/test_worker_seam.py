"""The web process reaches the worker through one module, web/reply_queue.py: no other
module of web/ imports from worker/."""

from __future__ import annotations

from tests.support.imports import modules_importing


def test_only_reply_queue_imports_from_the_worker():
    assert modules_importing("web", "worker") == {"web/reply_queue.py"}
