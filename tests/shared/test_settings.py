"""Where the web process listens: this machine only unless told otherwise."""

from __future__ import annotations

import importlib

import pytest

import web.hypercorn_config
from shared.settings import Settings


@pytest.fixture(name="reload_config")
def _reload_config(monkeypatch):
    def reload(**env: str) -> list[str]:
        for name in ("CHATTRAIN_HOST", "PORT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(web.hypercorn_config).bind

    yield reload
    monkeypatch.undo()
    importlib.reload(web.hypercorn_config)


def test_hypercorn_binds_loopback_by_default(reload_config):
    assert reload_config() == ["127.0.0.1:8000"]


def test_chattrain_host_and_port_choose_a_public_address(reload_config):
    assert reload_config(CHATTRAIN_HOST="0.0.0.0", PORT="9000") == ["0.0.0.0:9000"]


def test_the_host_setting_defaults_to_loopback(tmp_path, monkeypatch):
    monkeypatch.delenv("CHATTRAIN_HOST", raising=False)
    assert Settings(data_dir=tmp_path).host == "127.0.0.1"
