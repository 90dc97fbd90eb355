"""The Huey instance is configured from a Settings object, never from the environment at
import: create_app(settings) configures it for the web side, worker.main (the consumer's
target) with the settings it loads."""

from __future__ import annotations

import os
import subprocess
import sys

from shared.settings import Settings
from tests.support.stack import REPO_ROOT

FRESH_IMPORT = """
import os
for name in [n for n in os.environ if n.startswith("CHATTRAIN_")]:
    del os.environ[name]
os.environ["CHATTRAIN_DATA_DIR"] = "/nonexistent/should-not-be-read"
import worker.tasks, worker.evaluation  # registers the tasks
from worker.huey_app import huey
try:
    worker.tasks.generate_reply(1)
except RuntimeError as error:
    print("refused:", error)
print("created:", os.path.exists("/nonexistent"))
"""


def test_importing_the_tasks_reads_no_settings_and_an_unconfigured_queue_refuses_jobs():
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHATTRAIN_")}
    result = subprocess.run(
        [sys.executable, "-c", FRESH_IMPORT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "refused: The queue is not configured" in result.stdout
    assert "created: False" in result.stdout


def test_create_app_points_the_queue_at_its_settings_data_folder(tmp_path):
    from web.app import create_app
    from worker.huey_app import configured_settings, huey

    settings = Settings(data_dir=tmp_path / "here", scenarios_dir=REPO_ROOT / "scenarios")
    create_app(settings)
    assert configured_settings() is settings
    assert huey.storage.filename == str((tmp_path / "here" / "queue.db").resolve())
