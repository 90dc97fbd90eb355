"""Shared fixtures. The API tests run the real app (its real start-up: migrations,
scenario loading, the tailer) on a temporary SQLite file through Quart's test client;
the end-to-end tests start the real processes (see tests/e2e)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The Huey instance reads its queue path from the environment at import time; give the
# in-process tests a private folder before anything imports it.
_TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="chattrain-tests-"))
os.environ["CHATTRAIN_DATA_DIR"] = str(_TEST_DATA_DIR)
os.environ.setdefault("CHATTRAIN_SCENARIOS_DIR", str(Path(__file__).resolve().parents[1] / "scenarios"))

import pytest  # noqa: E402

from shared.settings import Settings  # noqa: E402
from tests.support.stack import REPO_ROOT, Stack  # noqa: E402


@pytest.fixture(name="settings")
def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")


@pytest.fixture(name="app")
async def _app(settings: Settings):
    from web.app import create_app

    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app


@pytest.fixture(name="client")
def _client(app):
    return app.test_client()


@pytest.fixture(name="stack")
def _stack(tmp_path: Path):
    stack = Stack(data_dir=tmp_path / "data")
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()
