"""Log levels: DEBUG is for ChatTrain's own per-message lines, never the libraries'."""

import logging

import pytest
from pydantic import ValidationError

from shared.lib.logs import configure_logging
from shared.settings import Settings


@pytest.fixture(name="fresh_root")
def _fresh_root():
    root = logging.getLogger()
    saved = root.handlers, root.level, logging.getLogger("chattrain").level
    root.__dict__.pop("_chattrain_configured", None)
    yield root
    root.handlers, _, _ = saved
    root.setLevel(saved[1])
    logging.getLogger("chattrain").setLevel(saved[2])
    root.__dict__.pop("_chattrain_configured", None)


def test_debug_reaches_chattrain_loggers_not_the_libraries(fresh_root):
    configure_logging("debug")
    assert logging.getLogger("chattrain.worker").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("hypercorn.error").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("asyncio").isEnabledFor(logging.DEBUG)


def test_info_keeps_per_message_lines_out(fresh_root):
    configure_logging("INFO")
    assert not logging.getLogger("chattrain.web").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("chattrain.web").isEnabledFor(logging.INFO)


def test_warning_applies_to_everyone(fresh_root):
    configure_logging("WARNING")
    assert not logging.getLogger("chattrain.web").isEnabledFor(logging.INFO)
    assert not logging.getLogger("hypercorn.error").isEnabledFor(logging.INFO)


def test_an_unknown_level_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CHATTRAIN_LOG_LEVEL", "chatty")
    with pytest.raises(ValidationError, match="DEBUG, INFO, WARNING"):
        Settings()
    monkeypatch.setenv("CHATTRAIN_LOG_LEVEL", "debug")
    assert Settings().log_level == "DEBUG"
