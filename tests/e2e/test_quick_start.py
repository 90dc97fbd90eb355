"""The quick start: `make run` on a fresh data folder, with no configuration at all,
serves on http://localhost:<port> (loopback only), with a masking key it generated."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.stack import REPO_ROOT, free_port

pytestmark = pytest.mark.e2e


def _demo_trainer_token(data_dir: Path) -> str:
    for line in (data_dir / "demo-tokens.txt").read_text().splitlines():
        if line.startswith("demo-trainer"):
            return line.rsplit(" ", 1)[1]
    raise AssertionError("no demo-trainer token")


def test_make_run_starts_with_no_configuration_and_generates_a_private_masking_key(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
    env.update(CHATTRAIN_DATA_DIR=str(data_dir), CHATTRAIN_SCENARIOS_DIR=str(REPO_ROOT / "scenarios"))
    venv = os.path.relpath(Path(sys.executable).parent.parent, REPO_ROOT)  # the Makefile's VENV is relative
    run = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"VENV={venv}", f"PORT={port}"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
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
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(5)
