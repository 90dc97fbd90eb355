"""`chattrain users ...`: create, list, disable users and rotate their tokens.

A token is printed once, when it is made, and only its hash is stored: keep it then, or
rotate it later. `ensure-demo` gives a fresh local install its two demo users and keeps
their tokens in `<data_dir>/demo-tokens.txt` (mode 0600) so a developer can find them,
and prints a sign-in link for each. `sign-in-link` prints a single-use link (valid 7 days
by default) that signs a person in to the web app without handing them a token; trainers
make the same links in the web app's People view without a shell."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from shared.db.browser_sessions import insert_sign_in_code, sign_in_link_url
from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.users import (
    ROLES,
    UserError,
    count_users,
    insert_user,
    select_users,
    update_user_disabled,
    update_user_token,
)
from shared.settings import load_settings

T = TypeVar("T")

DEMO_USERS = (("demo-trainee", "trainee", "Demo Trainee"), ("demo-trainer", "trainer", "Demo Trainer"))
DEMO_TOKENS_FILE = "demo-tokens.txt"


def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one data function in a write transaction on the configured database (brought
    up to the newest schema first, so the commands work before the server ever ran)."""
    url = load_settings().resolved_database_url
    upgrade_to_head(url)
    engine = create_sync_engine(url)
    try:
        with engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"}).begin() as conn:
            return fn(conn, *args, **kwargs)
    finally:
        engine.dispose()


def _show_token(user_id: str, token: str, token_only: bool) -> None:
    if token_only:
        click.echo(token)
    else:
        click.echo(f"Token for {user_id} (shown once; only its hash is stored):\n{token}")


@click.group("users")
def users() -> None:
    """Manage users and their API tokens."""


@users.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="trainee: own sessions; trainer: all.")
@click.option(
    "--id",
    "user_id",
    help="The user id (default: <role>-<random>). Reuse an existing sessions.user_id to adopt its sessions.",
)
@click.option("--name", "display_name", help="A display name.")
@click.option("--token-only", is_flag=True, help="Print only the token (for scripts).")
def create(role: str, user_id: str | None, display_name: str | None, token_only: bool) -> None:
    """Create a user and print their token once."""
    user_id = user_id or f"{role}-{secrets.token_hex(4)}"
    try:
        token = _run(insert_user, user_id=user_id, role=role, display_name=display_name)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    if not token_only:
        click.echo(f"Created {role} {user_id}.")
    _show_token(user_id, token, token_only)


@users.command("list")
def list_users() -> None:
    """List users (never their tokens)."""
    rows = _run(select_users)
    if not rows:
        click.echo("No users yet: `chattrain users create --role trainee`.")
        return
    click.echo(f"{'ID':<32} {'ROLE':<8} {'STATUS':<8} {'CREATED':<29} NAME")
    for user in rows:
        status = "erased" if user.get("erased_at") else "disabled" if user["disabled"] else "active"
        click.echo(
            f"{user['id']:<32} {user['role']:<8} {status:<8} {user['created_at']:<29} {user['display_name'] or ''}"
        )


@users.command("disable")
@click.argument("user_id")
def disable(user_id: str) -> None:
    """Disable a user: their token, tickets and sign-in links stop working at once, and
    their open chat sockets are closed within a second by every web process."""
    if not _run(update_user_disabled, user_id, disabled=True):
        raise click.ClickException(f"no user {user_id!r}")
    click.echo(f"Disabled {user_id}.")


@users.command("rotate-token")
@click.argument("user_id")
@click.option("--token-only", is_flag=True, help="Print only the token (for scripts).")
def rotate_token(user_id: str, token_only: bool) -> None:
    """Give a user a new token: the old one, their tickets and their unused sign-in links
    stop working at once, and sockets opened with them are closed within a second by
    every web process."""
    token = _run(update_user_token, user_id)
    if token is None:
        raise click.ClickException(f"no user {user_id!r}")
    _show_token(user_id, token, token_only)


def default_base_url() -> str:
    """Where people open the web app: CHATTRAIN_PUBLIC_BASE_URL, else this machine's port."""
    public = load_settings().public_base_url
    return public.rstrip("/") if public else f"http://localhost:{os.environ.get('PORT', '8000')}"


def make_sign_in_link(user_id: str, base_url: str) -> str:
    """Store a new sign-in code for the user and return the link that carries it (in the
    fragment, which browsers never send to a server). ClickException for an unknown or
    disabled user."""
    ttl = load_settings().sign_in_link_ttl_seconds
    code = _run(insert_sign_in_code, user_id, now=time.time(), ttl_seconds=ttl)
    if code is None:
        raise click.ClickException(f"no enabled user {user_id!r} (see `chattrain users list`)")
    return sign_in_link_url(base_url, code)


def link_lifetime(seconds: int) -> str:
    """A link's lifetime in words: "7 days", "36 hours", "15 minutes"."""
    for unit, size in (("day", 86400), ("hour", 3600)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@users.command("sign-in-link")
@click.argument("user_id")
@click.option(
    "--base-url", help="Where the web app is opened (default: CHATTRAIN_PUBLIC_BASE_URL, else http://localhost:$PORT)."
)
def sign_in_link(user_id: str, base_url: str | None) -> None:
    """Print a link that signs the user in to the web app once, within
    CHATTRAIN_SIGN_IN_LINK_TTL_SECONDS (7 days by default)."""
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--base-url")
    lifetime = link_lifetime(load_settings().sign_in_link_ttl_seconds)
    link = make_sign_in_link(user_id, base_url or default_base_url())
    click.echo(f"Sign-in link for {user_id} (works once, within {lifetime}):\n{link}")


def _create_demo_users(conn) -> list[tuple[str, str, str]] | None:  # noqa: ANN001
    if count_users(conn) > 0:
        return None
    return [
        (user_id, role, insert_user(conn, user_id=user_id, role=role, display_name=name))
        for user_id, role, name in DEMO_USERS
    ]


def write_private_file(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text)


@users.command("ensure-demo")
def ensure_demo() -> None:
    """On a fresh install, create demo-trainee and demo-trainer and print their tokens
    (also kept in <data_dir>/demo-tokens.txt, mode 0600). Does nothing once users exist."""
    settings = load_settings()
    tokens_path = settings.data_dir / DEMO_TOKENS_FILE
    created = _run(_create_demo_users)
    if created is None:
        where = f"; demo tokens are in {tokens_path}" if tokens_path.exists() else ""
        click.echo(f"Users exist: no demo users created{where}.")
        click.echo(
            "Sign in to the web app with a link from `chattrain users sign-in-link demo-trainee` (or demo-trainer)."
        )
        return
    lines = [f"{user_id} ({role}): {token}" for user_id, role, token in created]
    write_private_file(
        tokens_path,
        "# ChatTrain demo users (local development only). Send: Authorization: Bearer <token>\n"
        + "\n".join(lines)
        + "\n",
    )
    click.echo("Created demo users (tokens shown once here, and kept in " + str(tokens_path) + "):")
    for line in lines:
        click.echo(f"  {line}")
    lifetime = link_lifetime(settings.sign_in_link_ttl_seconds)
    click.echo(
        f"Open the web app with a sign-in link (each works once, within {lifetime}; "
        "`chattrain users sign-in-link demo-trainee` makes another):"
    )
    for user_id, _role, _token in created:
        click.echo(f"  {user_id}: {make_sign_in_link(user_id, default_base_url())}")


if __name__ == "__main__":  # `python -m shared.cli.users ...`, the same commands as `chattrain users ...`
    users()
