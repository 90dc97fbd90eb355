"""The masking vault's key: no well-known default where it matters, a clear refusal
without one, a warning in insecure-dev mode, and a generated key file for `make run`."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from shared.cli.secret_key import secret_key
from shared.settings import DEV_ONLY_SECRET_KEY, SecretKeyMissing, Settings
from tests.support.stack import REPO_ROOT
from web.app import create_app


def _settings(tmp_path, **overrides) -> Settings:  # noqa: ANN001
    values = {"data_dir": tmp_path / "data", "secret_key": "", "secret_key_file": "", **overrides}
    return Settings(**values)


def test_the_web_app_refuses_to_start_with_masking_on_and_no_key(tmp_path):
    with pytest.raises(SecretKeyMissing, match="CHATTRAIN_SECRET_KEY"):
        create_app(_settings(tmp_path))


def test_insecure_dev_mode_starts_without_a_key_and_warns(tmp_path, caplog):
    settings = _settings(tmp_path, auth_mode="insecure-dev", host="127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="chattrain"):
        create_app(settings)
    assert settings.masking_key == DEV_ONLY_SECRET_KEY
    assert any("well-known development key" in record.getMessage() for record in caplog.records)


def test_masking_off_needs_no_key(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="chattrain"):
        create_app(_settings(tmp_path, masking="off"))
    assert not any("development key" in record.getMessage() for record in caplog.records)


def test_the_key_comes_from_the_setting_or_else_from_the_key_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-the-file\n")
    assert _settings(tmp_path, secret_key_file=str(key_file)).masking_key == b"from-the-file"
    assert _settings(tmp_path, secret_key="from-env", secret_key_file=str(key_file)).masking_key == b"from-env"


@pytest.mark.parametrize("contents", [None, "", "  \n"])
def test_a_missing_or_empty_key_file_is_refused(tmp_path, contents):
    key_file = tmp_path / "key"
    if contents is not None:
        key_file.write_text(contents)
    with pytest.raises(SecretKeyMissing, match="CHATTRAIN_SECRET_KEY_FILE"):
        _settings(tmp_path, secret_key_file=str(key_file)).masking_key  # noqa: B018


def test_the_worker_refuses_to_start_with_masking_on_and_no_key(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
    env["CHATTRAIN_DATA_DIR"] = str(tmp_path / "data")
    started = subprocess.run(
        [sys.executable, "-c", "import worker.main"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0
    # One line naming the setting, no traceback (the gevent warning of a late patch, which
    # importing worker.main this way earns, would come after it).
    assert started.stderr.startswith("chattrain worker: CHATTRAIN_MASKING=on needs a secret key"), started.stderr
    assert len(started.stderr.strip().splitlines()) == 1, started.stderr


@pytest.fixture(name="data_dir")
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATTRAIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CHATTRAIN_SECRET_KEY", raising=False)
    monkeypatch.delenv("CHATTRAIN_SECRET_KEY_FILE", raising=False)
    return tmp_path / "data"


def _ensure() -> str:
    result = CliRunner().invoke(secret_key, ["ensure"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_ensure_generates_a_private_random_key_once_and_prints_its_path(data_dir):
    path = _ensure()
    key_file = data_dir / "secret-key"
    assert path == str(key_file.resolve())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 43  # 256 bits, URL-safe base64
    assert _ensure() == path and key_file.read_text().strip() == key  # never replaced
    assert Settings(secret_key_file=path).masking_key == key.encode()


def test_ensure_writes_a_different_key_for_each_install(tmp_path, monkeypatch, data_dir):
    first = (data_dir / "secret-key", _ensure())
    monkeypatch.setenv("CHATTRAIN_DATA_DIR", str(tmp_path / "other"))
    _ensure()
    assert first[0].read_text() != (tmp_path / "other" / "secret-key").read_text()


def test_ensure_does_nothing_when_the_key_is_set(data_dir, monkeypatch):
    monkeypatch.setenv("CHATTRAIN_SECRET_KEY", "set-by-the-operator")
    assert _ensure() == ""
    assert not (data_dir / "secret-key").exists()
