"""The `chattrain users` commands, run in-process on a temporary data folder."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from shared.cli.users import link_lifetime, users
from shared.db.engine import create_sync_engine
from shared.db.users import select_user_by_token


@pytest.fixture(name="data_dir")
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATTRAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CHATTRAIN_DATABASE_URL", raising=False)
    return tmp_path / "data"


def _run(*args: str) -> str:
    result = CliRunner().invoke(users, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _user_of(data_dir, token: str):  # noqa: ANN001, ANN202
    engine = create_sync_engine(f"sqlite:///{data_dir / 'chattrain.db'}")
    try:
        with engine.connect() as conn:
            return select_user_by_token(conn, token)
    finally:
        engine.dispose()


def test_ensure_demo_creates_two_users_once_and_keeps_their_tokens_private(data_dir):
    output = _run("ensure-demo")
    tokens_file = data_dir / "demo-tokens.txt"
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    lines = [line for line in tokens_file.read_text().splitlines() if not line.startswith("#")]
    tokens = {line.split(" ")[0]: line.rsplit(" ", 1)[1] for line in lines}
    assert set(tokens) == {"demo-trainee", "demo-trainer"}
    for user_id, token in tokens.items():
        assert token in output  # printed once, too
        assert _user_of(data_dir, token)["id"] == user_id
    assert _user_of(data_dir, tokens["demo-trainer"])["role"] == "trainer"
    again = _run("ensure-demo")
    assert "Users exist" in again and tokens["demo-trainee"] not in again
    assert tokens_file.read_text().count("demo-trainee") == 1


def test_ensure_demo_does_nothing_when_any_user_exists(data_dir):
    _run("create", "--role", "trainer", "--id", "boss")
    assert "Users exist" in _run("ensure-demo")
    assert not (data_dir / "demo-tokens.txt").exists()


def test_create_rotate_disable_and_list(data_dir):
    token = _run("create", "--role", "trainee", "--id", "alice", "--name", "Alice", "--token-only").strip()
    assert _user_of(data_dir, token)["display_name"] == "Alice"
    rotated = _run("rotate-token", "alice", "--token-only").strip()
    assert rotated != token and _user_of(data_dir, token) is None and _user_of(data_dir, rotated)["id"] == "alice"
    _run("disable", "alice")
    assert _user_of(data_dir, rotated) is None
    listing = _run("list")
    assert "alice" in listing and "disabled" in listing and rotated not in listing


@pytest.mark.parametrize(
    "args",
    [
        ["create", "--role", "admin"],
        ["create", "--role", "trainee", "--id", "has space"],
        ["disable", "nobody"],
        ["rotate-token", "nobody"],
    ],
)
def test_bad_commands_fail_with_a_message(data_dir, args):
    result = CliRunner().invoke(users, args)
    assert result.exit_code != 0 and result.output.strip()


def test_a_taken_id_is_refused(data_dir):
    _run("create", "--role", "trainee", "--id", "bob")
    result = CliRunner().invoke(users, ["create", "--role", "trainee", "--id", "bob"])
    assert result.exit_code == 1 and "already exists" in result.output


def _tickets_and_revision(data_dir, user_id: str) -> tuple[int, int]:  # noqa: ANN001
    from sqlalchemy import func, select

    from shared.db.schema import ws_tickets
    from shared.db.users import select_user

    engine = create_sync_engine(f"sqlite:///{data_dir / 'chattrain.db'}")
    try:
        with engine.connect() as conn:
            tickets = conn.execute(select(func.count()).where(ws_tickets.c.user_id == user_id)).scalar_one()
            return tickets, select_user(conn, user_id)["credentials_revision"]
    finally:
        engine.dispose()


def _mint_ticket(data_dir, user_id: str) -> None:  # noqa: ANN001
    import time

    from shared.db.engine import BEGIN_MODE
    from shared.db.users import insert_ws_ticket

    engine = create_sync_engine(f"sqlite:///{data_dir / 'chattrain.db'}")
    try:
        with engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}).begin() as conn:
            revision = conn.exec_driver_sql(
                "SELECT credentials_revision FROM users WHERE id = ?", (user_id,)
            ).scalar_one()
            assert insert_ws_ticket(
                conn, user_id=user_id, credentials_revision=revision, now=time.time(), ttl_seconds=60
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", ["rotate-token", "disable"])
def test_rotating_or_disabling_deletes_unused_tickets_and_raises_the_revision(data_dir, command):
    _run("create", "--role", "trainee", "--id", "carol")
    _run("create", "--role", "trainee", "--id", "dave")
    _mint_ticket(data_dir, "carol")
    _mint_ticket(data_dir, "dave")
    _run(command, "dave")  # an earlier revocation: carol's must come after it
    assert _tickets_and_revision(data_dir, "carol") == (1, 0)
    _run(command, "carol")
    assert _tickets_and_revision(data_dir, "carol") == (0, 2)
    assert _tickets_and_revision(data_dir, "dave") == (0, 1)


def _exchange(data_dir, link: str):  # noqa: ANN001, ANN202
    import time

    from shared.db.browser_sessions import exchange_sign_in_code

    code = link.split("#sign-in=", 1)[1]
    engine = create_sync_engine(f"sqlite:///{data_dir / 'chattrain.db'}")
    try:
        with engine.begin() as conn:
            return exchange_sign_in_code(conn, code, now=time.time(), session_ttl_seconds=60)
    finally:
        engine.dispose()


def test_sign_in_link_prints_a_single_use_link_for_the_web_app(data_dir, monkeypatch):
    monkeypatch.delenv("CHATTRAIN_PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "8123")
    _run("create", "--role", "trainee", "--id", "alice")
    output = _run("sign-in-link", "alice").strip().splitlines()
    assert output[0] == "Sign-in link for alice (works once, within 7 days):"
    link = output[-1]
    assert link.startswith("http://localhost:8123/#sign-in=")
    user, _secret = _exchange(data_dir, link)
    assert user["id"] == "alice"
    assert _exchange(data_dir, link) is None  # single use
    other = _run("sign-in-link", "alice", "--base-url", "https://train.example/").strip().splitlines()[-1]
    assert other.startswith("https://train.example/#sign-in=")


def test_sign_in_link_refuses_unknown_or_disabled_users_and_bad_urls(data_dir):
    _run("create", "--role", "trainee", "--id", "bob")
    _run("disable", "bob")
    for args in (["sign-in-link", "nobody"], ["sign-in-link", "bob"], ["sign-in-link", "bob", "--base-url", "ftp://x"]):
        result = CliRunner().invoke(users, args)
        assert result.exit_code != 0 and result.output.strip(), args
        assert "Traceback" not in result.output


def test_ensure_demo_prints_a_sign_in_link_for_each_demo_user(data_dir):
    output = _run("ensure-demo")
    links = [line.split(": ", 1)[1] for line in output.splitlines() if "#sign-in=" in line]
    assert len(links) == 2
    assert {_exchange(data_dir, link)[0]["id"] for link in links} == {"demo-trainee", "demo-trainer"}


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (604800, "7 days"),
        (86400, "1 day"),
        (129600, "36 hours"),
        (900, "15 minutes"),
        (90, "1 minute"),
        (10, "1 minute"),
    ],
)
def test_a_links_lifetime_is_said_in_words(seconds, words):
    assert link_lifetime(seconds) == words
