"""The arrows inside shared/ run one way: a conversation (shared/conversation/) uses the
training domain (shared/training/: scoring, completion, reports), never the reverse, and
nothing in shared/ imports the web app or the worker."""

from __future__ import annotations

import pytest

from tests.support.imports import modules_importing


def test_the_training_domain_does_not_import_the_conversation():
    assert modules_importing("shared/training", "shared.conversation") == set()


@pytest.mark.parametrize("package", ["web", "worker"])
def test_shared_imports_neither_the_web_app_nor_the_worker(package):
    assert modules_importing("shared", package) == set()
