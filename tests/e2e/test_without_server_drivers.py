"""The SQLite layout needs neither server driver: psycopg and redis-py are extras
(pyproject.toml), and `make run` installs neither. Here the real web, worker and CLI
processes run with both made unimportable (a `sitecustomize` on PYTHONPATH puts an import
blocker first on `sys.meta_path`), as on an install without the extras; and a URL that
names PostgreSQL or Redis then stops each entry point with one line saying what to
install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.client import ChatClient, create_session
from tests.support.stack import procfile_commands, run_entry_point, started_stack

pytestmark = pytest.mark.e2e

BLOCKED = ("psycopg", "psycopg_binary", "psycopg_c", "redis")

# Each process that loads the blocker writes its command line to a file named for its pid
# (in BLOCKED_IMPORTS_LOG), so the test knows the blocker ran where it meant it to.
SITECUSTOMIZE = f"""
import os
import sys

BLOCKED = {BLOCKED!r}


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
with open(os.path.join(os.environ["BLOCKED_IMPORTS_LOG"], str(os.getpid())), "w") as log:
    log.write(" ".join(sys.argv))
"""


@pytest.fixture(name="without_drivers")
def _without_drivers(tmp_path: Path) -> dict[str, str]:
    """Environment variables that make psycopg and redis-py unimportable in a child process."""
    blocker, log = tmp_path / "blocker", tmp_path / "blocker-log"
    blocker.mkdir()
    log.mkdir()
    (blocker / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": str(blocker), "BLOCKED_IMPORTS_LOG": str(log)}


def _blocked_command_lines(env: dict[str, str]) -> list[str]:
    return [path.read_text() for path in Path(env["BLOCKED_IMPORTS_LOG"]).iterdir()]


def test_the_blocker_makes_the_drivers_unimportable(without_drivers):
    env = {**os.environ, **without_drivers}
    for name in BLOCKED[::3]:
        result = subprocess.run([sys.executable, "-c", f"import {name}"], env=env, capture_output=True, text=True)
        assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr, result.stderr


async def test_the_sqlite_layout_serves_a_conversation_with_no_server_driver_installed(tmp_path, without_drivers):
    with started_stack(tmp_path / "data", **without_drivers) as stack:
        session = await create_session(stack.base_url, "customer-service", token=stack.token)
        chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=stack.token)
        try:
            await chat.send("session_start")
            await chat.recv_until("session_start")
            await chat.recv_until("assistant_message")  # the opening line, from the worker
            ack, reply = await chat.say("I'm sorry about that, let me help you get back into your account.")
            assert reply["metadata"]["reply_to"] == ack["message_id"]
            await chat.send("end_session")
            report = await chat.recv_until("session_complete", timeout=30)
            assert report["session_id"] == session["id"]
        finally:
            await chat.close()
        health = stack.health()
        assert health["status"] == "healthy" and health["worker"]["alive"], health
        logs = stack.all_logs()
        assert "Traceback" not in logs, logs[-3000:]
        cli = subprocess.run(
            [str(Path(sys.executable).parent / "chattrain"), "db", "upgrade"],
            env=stack.cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 0, cli.stderr
    # The web process, the worker and the CLI (migrations, users) all ran blocked.
    command_lines = _blocked_command_lines(without_drivers)
    assert any("hypercorn" in line for line in command_lines), command_lines
    assert any("huey_consumer" in line for line in command_lines), command_lines
    assert any("chattrain" in line for line in command_lines), command_lines


@pytest.mark.parametrize("entry_point", ["cli", "web", "worker"])
def test_a_postgresql_url_without_its_driver_stops_start_up_with_one_line_naming_the_extra(
    tmp_path, without_drivers, entry_point
):
    command = "chattrain db upgrade" if entry_point == "cli" else procfile_commands()[entry_point]
    url = "postgresql+psycopg://chattrain:s3cret-pw@127.0.0.1:1/chattrain"
    result = run_entry_point(command, tmp_path, {**without_drivers, "CHATTRAIN_DATABASE_URL": url})
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output and "s3cret-pw" not in output, output
    [line] = [line for line in output.splitlines() if "CHATTRAIN_DATABASE_URL" in line]
    assert "the psycopg package cannot be imported" in line, line
    assert "pip install 'chattrain[postgresql]'" in line, line


@pytest.mark.parametrize("entry_point", ["web", "worker"])
def test_a_redis_url_without_its_driver_stops_start_up_with_one_line_naming_the_extra(
    tmp_path, without_drivers, entry_point
):
    url = "redis://:s3cret-pw@127.0.0.1:1/0"
    result = run_entry_point(
        procfile_commands()[entry_point], tmp_path, {**without_drivers, "CHATTRAIN_QUEUE_URL": url}
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output and "s3cret-pw" not in output, output
    [line] = [line for line in output.splitlines() if "CHATTRAIN_QUEUE_URL" in line]
    assert line.startswith(f"chattrain {entry_point}: CHATTRAIN_QUEUE_URL redis://:***@127.0.0.1:1/0: "), line
    assert "the redis package cannot be imported" in line and "pip install 'chattrain[redis]'" in line, line
