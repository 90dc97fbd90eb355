"""Log levels (DEBUG is for ChatTrain's own per-message lines, never the libraries'), and
the JSON format."""

import json
import logging

import pytest
from pydantic import ValidationError

from shared.lib.logs import JsonFormatter, adopt_handlers, configure_logging
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
    root.__dict__.pop("_chattrain_log_format", None)


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


def test_json_format_writes_one_object_per_line(fresh_root, capsys):
    configure_logging("INFO", "json")
    logging.getLogger("chattrain.worker").info("reply stored session_id=%s message_id=%s", 7, 9)
    line = json.loads(capsys.readouterr().out.strip())
    assert line["level"] == "INFO" and line["logger"] == "chattrain.worker"
    assert line["message"] == "reply stored session_id=7 message_id=9" and line["session_id"] == 7


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_library_handler_takes_the_json_format_only_in_json_mode(fresh_root, log_format):
    configure_logging("INFO", log_format)
    library = logging.getLogger("a-library")
    handler = logging.StreamHandler()
    own = logging.Formatter("%(message)s")
    handler.setFormatter(own)
    library.addHandler(handler)
    try:
        adopt_handlers(library)
        assert isinstance(handler.formatter, JsonFormatter) == (log_format == "json")
        assert (handler.formatter is own) == (log_format == "text")
    finally:
        library.removeHandler(handler)
