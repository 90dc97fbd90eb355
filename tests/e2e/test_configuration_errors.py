"""A setting that is wrong ends the web process and the worker, each started by its Procfile
line, with one line on stderr naming the setting: no traceback, no lines before it, and a
non-zero exit."""

from __future__ import annotations

import pytest

from tests.support.stack import procfile_commands, run_entry_point

pytestmark = pytest.mark.e2e

# (variable, value, what the line says), each wrong for both processes.
WRONG_SETTINGS = [
    ("CHATTRAIN_LLM_PROVIDER", "nope", "Input should be 'mock' or 'openai'"),
    ("CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS", "many", "valid integer"),
    ("CHATTRAIN_LLM_BASE_URL", "api.openai.com/v1", "must start with http:// or https://"),
    ("CHATTRAIN_SECRET_KEY_FILE", "{tmp}/no-such-key", "cannot read"),
]
# More, tried on the web process only: the first two take the same path in both processes
# as the ones above; Hypercorn reads the last two, before the app's settings.
WRONG_WEB_SETTINGS = [
    ("CHATTRAIN_CORS_ALLOWED_ORIGINS", '["https://a.example"', "not valid JSON"),
    ("CHATTRAIN_DATA_DIR", "{tmp}/a-file/data", "cannot create"),
    ("CHATTRAIN_WS_PING_INTERVAL_SECONDS", "soon", "not a number of seconds"),
    ("PORT", "http", "not a port number"),
]
CASES = [
    pytest.param(process, *wrong, id=f"{process}-{wrong[0]}")
    for process in ("web", "worker")
    for wrong in WRONG_SETTINGS + (WRONG_WEB_SETTINGS if process == "web" else [])
]


@pytest.mark.parametrize(("process", "variable", "value", "says"), CASES)
def test_a_wrong_setting_ends_the_process_with_one_line_naming_it(tmp_path, process, variable, value, says):
    (tmp_path / "a-file").write_text("not a folder")
    env = {variable: value.format(tmp=tmp_path)}
    if variable == "CHATTRAIN_SECRET_KEY_FILE":
        env["CHATTRAIN_SECRET_KEY"] = ""  # the file is the only key offered
    result = run_entry_point(procfile_commands()[process], tmp_path, env)
    assert result.returncode != 0
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chattrain") and variable in lines[0] and says in lines[0], lines[0]
