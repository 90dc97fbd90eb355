"""GET /api/health: anyone learns that the web process is up; the verdict and the
details (worker timing, queue depth, the model's last error) need a token."""

from __future__ import annotations

import pytest

from shared.settings import Settings
from tests.support.stack import REPO_ROOT
from web.app import create_app


async def test_anonymous_health_is_liveness_only(client):
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = await response.get_json()
    assert set(body) == {"status", "timestamp"}
    assert body["status"] == "ok" and body["timestamp"].endswith("+00:00")


@pytest.mark.parametrize("who", ["trainee", "trainer"])
async def test_any_signed_in_user_sees_the_details(client, users, who):
    body = await (await client.get("/api/health", headers=getattr(users, who).headers)).get_json()
    assert body["status"] in ("healthy", "degraded")
    assert {"worker", "queue", "llm", "database"} <= set(body)


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Basic dXNlcjpwYXNz"])
async def test_a_bad_token_on_health_is_401_not_a_quiet_liveness_answer(client, header):
    response = await client.get("/api/health", headers={"Authorization": header})
    assert response.status_code == 401
    assert (await response.get_json())["code"] == "unauthorized"


async def test_openapi_describes_both_answers(client):
    spec = await (await client.get("/openapi.json")).get_json()
    schema = spec["paths"]["/api/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    names = {option["$ref"].rsplit("/", 1)[1] for option in schema["anyOf"]}
    assert names == {"Health", "Liveness"}


async def test_insecure_dev_mode_shows_the_details_without_a_token(tmp_path, database_url):
    settings = Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        auth_mode="insecure-dev",
        host="127.0.0.1",
    )
    async with create_app(settings).test_app() as test_app:
        body = await (await test_app.test_client().get("/api/health")).get_json()
    assert "worker" in body
