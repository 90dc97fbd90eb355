"""Schemathesis against the real processes, with every check and every phase (examples,
coverage, fuzzing and the stateful phase, which follows the links it infers from one
operation's response to another's parameters): the OpenAPI document describes every
answer the API gives, no input gets a server error, and no trainee reads another's data.

It runs the `st` command of the pinned schemathesis (pyproject.toml) the way a user of the
published document would, twice on one stack:

- signed in as a trainer, so every operation runs past authentication (its
  `ignored_auth` check also tries each one without the token), 50 examples per operation;
- as two trainees named as peers in a Web Fuzzing Commons auth document, which is what
  the `object_level_authorization` check needs to run at all: it replays each trainee's
  read of what they created as the other trainee and fails when the other gets it. This
  run also sees the API as a trainee sees it (the trainers' operations answer 403, which
  must be declared); 20 examples per operation keep it to about half a minute.

A fixed seed makes each run repeatable. Every check is on (schemathesis's default, stated
in tests/e2e/schemathesis.toml, which also holds the narrow exceptions, each with its
reason; `--checks all` on the command line would override them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import started_stack

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
PEERS = ("trainee-a", "trainee-b")


@pytest.fixture(name="roomy_stack")
def _roomy_stack(tmp_path):
    """A stack whose per-user limits do not stop the run from reaching the handlers (429
    is still declared and accepted where it can happen)."""
    limits = {"CHATTRAIN_SESSIONS_PER_WINDOW": "100000", "CHATTRAIN_MAX_ACTIVE_SESSIONS_PER_USER": "0"}
    with started_stack(tmp_path / "data", **limits) as stack:
        yield stack


def _schemathesis(stack, folder: Path, config: Path, *options: str) -> None:
    """One `st run` with every phase, which must find nothing."""
    folder.mkdir()
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{stack.base_url}/openapi.json",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        "18",
        "--workers",
        "1",
        "--report-dir",
        str(folder / "reports"),
        *options,
    ]
    # In a folder of its own: schemathesis keeps a cache of past failures (.schemathesis/)
    # in its working folder and replays them, and this run must not depend on earlier ones.
    run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    assert "Stateful" in output and " passed" in output, output[-12000:]


def test_schemathesis_with_every_check_and_phase_finds_no_mismatch(roomy_stack, tmp_path):
    token = roomy_stack.create_user("trainer", "schemathesis-trainer")
    _schemathesis(
        roomy_stack, tmp_path / "trainer", CONFIG, "--header", f"Authorization: Bearer {token}", "--max-examples", "50"
    )

    users = tmp_path / "trainees.json"
    users.write_text(
        json.dumps(
            {
                "auth": [
                    {
                        "name": name,
                        "fixedHeaders": [
                            {"name": "Authorization", "value": f"Bearer {roomy_stack.create_user('trainee', name)}"}
                        ],
                    }
                    for name in PEERS
                ]
            }
        )
    )
    peers_config = tmp_path / "schemathesis-peers.toml"
    peers_config.write_text(
        CONFIG.read_text() + f"\n[auth.wfc]\npath = {json.dumps(str(users))}\npeers = {json.dumps(list(PEERS))}\n"
    )
    _schemathesis(roomy_stack, tmp_path / "trainees", peers_config, "--max-examples", "20")
