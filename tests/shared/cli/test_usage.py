"""`chattrain usage`, through click's test runner, on a database the test fills with the
data function the worker uses."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.cli.main import main
from shared.db.engine import create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.usage import upsert_llm_usage
from shared.lib.clock import utc_now

TODAY = utc_now().date()


@pytest.fixture(name="cli")
def _cli(tmp_path: Path) -> CliRunner:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{(data_dir / 'chattrain.db').resolve()}"
    upgrade_to_head(url)
    engine = create_sync_engine(url)
    with engine.begin() as conn:
        for user_id, days_ago, prompt, completion in (
            ("trainee-1", 0, 1200, 80),
            ("trainee-2", 0, 300, 20),
            ("trainee-1", 3, 500, 40),
            ("trainee-1", 10, 999, 99),
        ):
            day = (TODAY - timedelta(days=days_ago)).isoformat()
            upsert_llm_usage(conn, user_id=user_id, day=day, prompt_tokens=prompt, completion_tokens=completion)
    engine.dispose()
    return CliRunner(env={"CHATTRAIN_DATA_DIR": str(data_dir), "CHATTRAIN_LLM_DAILY_TOKEN_BUDGET_PER_USER": "2000"})


def test_usage_prints_the_last_seven_days_per_user_with_totals_and_the_budget(cli):
    result = cli.invoke(main, ["usage"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0] == f"LLM usage of all users, {(TODAY - timedelta(days=6)).isoformat()} to {TODAY.isoformat()} (UTC):"
    )
    assert lines[1].split() == ["DAY", "USER_ID", "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS", "REPLIES"]
    rows = [line.split() for line in lines[2:-2]]
    assert rows == [
        [(TODAY - timedelta(days=3)).isoformat(), "trainee-1", "500", "40", "540", "1"],
        [TODAY.isoformat(), "trainee-1", "1200", "80", "1280", "1"],
        [TODAY.isoformat(), "trainee-2", "300", "20", "320", "1"],
    ]
    assert lines[-2].split() == ["TOTAL", "2000", "140", "2140", "3"]
    assert "Daily budget: 2000 tokens per user per UTC day" in lines[-1]


def test_usage_of_one_user_over_n_days_as_json(cli):
    result = cli.invoke(main, ["usage", "--user-id", "trainee-1", "--days", "30", "--json"])
    assert result.exit_code == 0, result.output
    usage = json.loads(result.output)
    assert usage["user_id"] == "trainee-1" and usage["daily_token_budget_per_user"] == 2000
    assert [row["total_tokens"] for row in usage["days"]] == [1098, 540, 1280]
    assert usage["totals"] == {"prompt_tokens": 2699, "completion_tokens": 219, "total_tokens": 2918, "replies": 3}


def test_usage_without_any_says_so(cli):
    result = cli.invoke(main, ["usage", "--user-id", "nobody"])
    assert result.exit_code == 0
    assert "No usage." in result.output


def test_days_must_be_at_least_one(cli):
    assert cli.invoke(main, ["usage", "--days", "0"]).exit_code == 2
