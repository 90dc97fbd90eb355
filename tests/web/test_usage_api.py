"""GET /api/usage and the LLM part of GET /api/health, on the real app. The worker is
not running: the usage and provider rows are written with the data functions it uses."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from shared.db import usage as usage_rows
from shared.db.workers import upsert_worker_heartbeat
from shared.lib.clock import utc_now
from shared.settings import Settings
from tests.support.stack import REPO_ROOT

TODAY = utc_now().date()


@pytest.fixture(name="settings")
def _settings(tmp_path, database_url) -> Settings:  # noqa: ANN001
    return Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        llm_daily_token_budget_per_user=5000,
    )


async def _spend(app, user_id: str, days_ago: int, prompt: int, completion: int, replies: int = 1) -> None:  # noqa: ANN001
    day = (TODAY - timedelta(days=days_ago)).isoformat()
    await app.app.db.write(
        usage_rows.upsert_llm_usage,
        user_id=user_id,
        day=day,
        prompt_tokens=prompt,
        completion_tokens=completion,
        replies=replies,
    )


@pytest.fixture(name="spent")
async def _spent(app) -> None:  # noqa: ANN001
    await _spend(app, "trainee-1", 0, 1000, 100, 3)
    await _spend(app, "trainee-1", 1, 500, 50, 2)
    await _spend(app, "trainee-2", 0, 10, 1)
    await _spend(app, "trainee-1", 40, 9999, 9999)  # outside the default 30 days


async def test_a_trainer_sees_everyones_usage_of_the_last_30_days_with_totals(client, users, spent):
    response = await client.get("/api/usage", headers=users.trainer.headers)
    assert response.status_code == 200
    usage = await response.get_json()
    assert usage["user_id"] is None
    assert usage["last_day"] == TODAY.isoformat()
    assert usage["first_day"] == (TODAY - timedelta(days=29)).isoformat()
    assert [(d["day"], d["user_id"], d["total_tokens"]) for d in usage["days"]] == [
        ((TODAY - timedelta(days=1)).isoformat(), "trainee-1", 550),
        (TODAY.isoformat(), "trainee-1", 1100),
        (TODAY.isoformat(), "trainee-2", 11),
    ]
    assert usage["totals"] == {"prompt_tokens": 1510, "completion_tokens": 151, "total_tokens": 1661, "replies": 6}
    assert usage["daily_token_budget_per_user"] == 5000


async def test_a_trainer_can_pick_a_user_and_a_range_of_days(client, users, spent):
    today = TODAY.isoformat()
    response = await client.get(f"/api/usage?user_id=trainee-1&from={today}&to={today}", headers=users.trainer.headers)
    usage = await response.get_json()
    assert usage["user_id"] == "trainee-1" and usage["first_day"] == usage["last_day"] == today
    assert [(d["user_id"], d["prompt_tokens"], d["completion_tokens"], d["replies"]) for d in usage["days"]] == [
        ("trainee-1", 1000, 100, 3)
    ]
    old = (TODAY - timedelta(days=40)).isoformat()
    response = await client.get(f"/api/usage?user_id=trainee-1&from={old}&to={old}", headers=users.trainer.headers)
    assert (await response.get_json())["totals"]["total_tokens"] == 19998


async def test_a_trainee_always_gets_their_own_usage_whatever_user_id_says(client, users, spent):
    for query in ("", "?user_id=trainee-2"):
        response = await client.get(f"/api/usage{query}", headers=users.trainee.headers)
        assert response.status_code == 200
        usage = await response.get_json()
        assert usage["user_id"] == "trainee-1"
        assert {d["user_id"] for d in usage["days"]} == {"trainee-1"}


async def test_no_usage_is_an_empty_list_with_zero_totals(client, users):
    usage = await (await client.get("/api/usage", headers=users.other.headers)).get_json()
    assert usage["days"] == [] and usage["totals"]["total_tokens"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-02-30", "from"),
        ("to=yesterday", "to"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2025-12-31", "from"),  # more than 366 days
    ],
)
async def test_a_bad_range_is_a_400_naming_the_field(client, users, query, field):
    response = await client.get(f"/api/usage?{query}", headers=users.trainer.headers)
    assert response.status_code == 400
    body = await response.get_json()
    assert body["code"] == "invalid_request" and body["field"] == field, body


async def test_health_reports_the_providers_last_call_and_a_failing_provider_degrades_it(app, client, users):
    async def health() -> dict:
        return await (await client.get("/api/health", headers=users.trainee.headers)).get_json()

    await app.app.db.write(
        upsert_worker_heartbeat,
        worker_id="w1",
        host="h",
        pid=1,
        started_at="2026-01-01T00:00:00.000+00:00",
        now=time.time(),
    )
    before = await health()
    assert before["llm"] == {
        "provider": "mock",
        "last_call_ok": None,
        "last_success_at": None,
        "last_failure_at": None,
        "last_error_code": None,
    }
    assert before["status"] == "healthy"

    await app.app.db.write(usage_rows.update_provider_success, provider="mock", at="2026-01-01T10:00:00.000+00:00")
    await app.app.db.write(
        usage_rows.update_provider_failure,
        provider="mock",
        at="2026-01-01T10:00:05.000+00:00",
        error_code="llm_timeout",
    )
    failing = await health()
    assert failing["status"] == "degraded"
    assert failing["llm"]["last_call_ok"] is False and failing["llm"]["last_error_code"] == "llm_timeout"

    await app.app.db.write(usage_rows.update_provider_success, provider="mock", at="2026-01-01T10:00:09.000+00:00")
    recovered = await health()
    assert recovered["status"] == "healthy" and recovered["llm"]["last_call_ok"] is True

    # Another provider's failures (before a switch) do not count against the configured one.
    await app.app.db.write(
        usage_rows.update_provider_failure,
        provider="openai",
        at="2026-01-01T11:00:00.000+00:00",
        error_code="llm_auth_failed",
    )
    assert (await health())["status"] == "healthy"
