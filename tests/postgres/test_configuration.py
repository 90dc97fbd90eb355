"""CHATTRAIN_DATABASE_URL=postgresql+psycopg://... for every entry point: the real web and
worker processes, migrations and the command line on a real PostgreSQL server; and a
wrong or unreachable URL stopping each of them with one line, no traceback, no password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.db.engine import create_sync_engine
from shared.db.users import insert_user, select_users
from tests.support.client import ChatClient, create_session
from tests.support.stack import REPO_ROOT, Stack, free_port, procfile_commands

PASSWORD = "pw-never-shown-7f3a"


def _with_password(url: str) -> str:
    """The URL with a password (trust auth ignores it; what matters is where it shows)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTRAIN_")}
    env.update(
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        CHATTRAIN_DATA_DIR=str(tmp_path / "data"),
        CHATTRAIN_SCENARIOS_DIR=str(REPO_ROOT / "scenarios"),
        CHATTRAIN_SECRET_KEY="test-only-secret-key",
        CHATTRAIN_DATABASE_URL=url,
        PORT=str(free_port()),
    )
    return env


def _run(command: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", "-c", f"exec {command}"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_chattrain_db_upgrade_migrates_postgresql_and_hides_the_password(tmp_path, pg_url):
    result = _run("chattrain db upgrade", _env(tmp_path, _with_password(pg_url)))
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    listed = _run("chattrain users create --role trainer --id pg-cli-user", _env(tmp_path, pg_url))
    assert listed.returncode == 0, listed.stderr
    assert "pg-cli-user" in _run("chattrain users list", _env(tmp_path, pg_url)).stdout


UNREACHABLE = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{free_port()}/chattrain"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (UNREACHABLE, "cannot reach the database postgresql+psycopg://postgres:***@127.0.0.1"),
        (f"postgresql+psycopg://postgres:{PASSWORD}@[::1", "is not a database URL"),
        (f"mysql://root:{PASSWORD}@127.0.0.1/chattrain", "use SQLite or PostgreSQL"),
    ],
    ids=["unreachable", "malformed", "unsupported"],
)
@pytest.mark.parametrize("process", ["web", "worker", "migrate"])
def test_a_bad_database_url_stops_start_up_with_one_line(tmp_path, pg_server, process, url, says):
    command = "chattrain db upgrade" if process == "migrate" else procfile_commands()[process]
    result = _run(command, _env(tmp_path, url), timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert says in output
    assert "Traceback" not in output
    assert PASSWORD not in output
    assert len([line for line in output.splitlines() if "database" in line.lower()]) == 1, output


class PostgresStack(Stack):
    """tests/support/stack.py's Stack, with its users made in the PostgreSQL database."""

    def create_user(self, role: str = "trainee", user_id: str | None = None) -> str:
        engine = create_sync_engine(self.extra_env["CHATTRAIN_DATABASE_URL"])
        try:
            with engine.begin() as conn:
                return insert_user(conn, user_id=user_id or f"{role}-{len(select_users(conn)) + 1}", role=role)
        finally:
            engine.dispose()


async def test_web_and_worker_hold_a_conversation_on_postgresql(tmp_path, pg_url):
    stack = PostgresStack(tmp_path / "data", extra_env={"CHATTRAIN_DATABASE_URL": _with_password(pg_url)})
    stack.start_all()
    try:
        health = stack.health()
        assert PASSWORD not in str(health)
        session = await create_session(stack.base_url, "customer-service", token=stack.token)
        chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}", token=stack.token)
        try:
            await chat.send("session_start")
            await chat.recv_until("assistant_message")
            ack, reply = await chat.say("I'm sorry about this, let me help you get back into your account.")
            assert reply["metadata"]["reply_to"] == ack["message_id"]
            await chat.send("end_session")
            complete = await chat.recv_until("session_complete", timeout=20)
            assert complete["summary"]["overall_score"] >= 0
        finally:
            await chat.close()
        assert health["status"] == "healthy", health
        assert PASSWORD not in stack.all_logs()
    finally:
        stack.stop_all()
