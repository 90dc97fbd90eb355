"""The quick start: `make run` on a fresh data folder, with no configuration at all,
serves on http://localhost:<port> (loopback only), with a masking key it generated."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.support.stack import free_port, start_make_run, stop_group

pytestmark = pytest.mark.e2e


def _demo_trainer_token(data_dir: Path) -> str:
    for line in (data_dir / "demo-tokens.txt").read_text().splitlines():
        if line.startswith("demo-trainer"):
            return line.rsplit(" ", 1)[1]
    raise AssertionError("no demo-trainer token")


def test_make_run_starts_with_no_configuration_and_generates_a_private_masking_key(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    run = start_make_run(data_dir, port)
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and run.poll() is None:
            try:
                token = _demo_trainer_token(data_dir)
                health = httpx.get(
                    f"http://localhost:{port}/api/health", headers={"Authorization": f"Bearer {token}"}, timeout=2
                ).json()
                if health["worker"]["alive"]:
                    break
            except (OSError, httpx.HTTPError, ValueError, KeyError, AssertionError):
                pass
            time.sleep(0.2)
        assert run.poll() is None, run.stdout.read().decode(errors="replace")[-3000:]
        assert health is not None and health["worker"]["alive"], health
        key_file = data_dir / "secret-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(key_file.read_text().strip()) >= 43
    finally:
        stop_group(run)
