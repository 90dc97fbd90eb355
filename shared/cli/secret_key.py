"""`chattrain secret-key ensure`: give an install a masking key of its own.

The masking vault keys its digests with CHATTRAIN_SECRET_KEY (shared/settings.py), and
with masking on the servers refuse to start without one. `make run` calls this before
starting them, so the quick start needs no configuration yet never runs on a key that is
written in the source."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from shared.settings import Settings, load_settings

SECRET_KEY_FILE = "secret-key"
SECRET_KEY_BYTES = 32


def secret_key_path(settings: Settings) -> Path:
    """Where the key file is: CHATTRAIN_SECRET_KEY_FILE, or `secret-key` in the data folder."""
    return Path(settings.secret_key_file) if settings.secret_key_file else settings.data_dir / SECRET_KEY_FILE


def ensure_secret_key_file(path: Path) -> bool:
    """Write a random key (256 bits) into `path`, readable by its owner only (0600), unless
    the file exists. True when it was written. Never replaces a key: values masked under
    the old one would no longer match their placeholders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as file:
        os.fchmod(file.fileno(), 0o600)  # whatever the umask
        file.write(secrets.token_urlsafe(SECRET_KEY_BYTES) + "\n")
    return True


@click.group("secret-key")
def secret_key() -> None:
    """The masking vault's secret key."""


@secret_key.command("ensure")
def ensure() -> None:
    """Make sure a key file exists and print its path (for CHATTRAIN_SECRET_KEY_FILE).

    Writes a random key into CHATTRAIN_SECRET_KEY_FILE, or <data_dir>/secret-key, unless
    the file exists. Prints nothing when CHATTRAIN_SECRET_KEY is set (it wins anyway)."""
    settings = load_settings()
    if settings.secret_key:
        return
    path = secret_key_path(settings).resolve()
    if ensure_secret_key_file(path):
        click.echo(f"Generated a secret key for masking in {path} (mode 0600); keep it with the database.", err=True)
    click.echo(str(path))
