"""Schemathesis against the real processes, with every check and every phase (examples,
coverage, fuzzing and the stateful phase, which follows the links it infers from one
operation's response to another's parameters): the OpenAPI document describes every
answer the API gives, and no input gets a server error.

It runs the `st` command of the pinned schemathesis (pyproject.toml) the way a user of the
published document would, signed in as a trainer so every operation runs past
authentication (its `ignored_auth` check also tries each one without the token). A
fixed seed makes the run repeatable. Every check is on (schemathesis's default, stated
in tests/e2e/schemathesis.toml, which also holds the two narrow exceptions, each with
its reason; `--checks all` on the command line would override them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import started_stack

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(name="roomy_stack")
def _roomy_stack(tmp_path):
    """A stack whose per-user limits do not stop the run from reaching the handlers (429
    is still declared and accepted where it can happen)."""
    limits = {"CHATTRAIN_SESSIONS_PER_WINDOW": "100000", "CHATTRAIN_MAX_ACTIVE_SESSIONS_PER_USER": "0"}
    with started_stack(tmp_path / "data", **limits) as stack:
        yield stack


def test_schemathesis_with_every_check_and_phase_finds_no_mismatch(roomy_stack, tmp_path):
    token = roomy_stack.create_user("trainer", "schemathesis-trainer")
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{roomy_stack.base_url}/openapi.json",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        "50",
        "--seed",
        "18",
        "--workers",
        "1",
        "--report-dir",
        str(tmp_path / "reports"),
    ]
    # In a folder of its own: schemathesis keeps a cache of past failures (.schemathesis/)
    # in its working folder and replays them, and this run must not depend on earlier ones.
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    assert "Stateful" in output and " passed" in output
