"""The HTTP API through Quart's test client, on the real app and a temporary SQLite file
(or a throwaway PostgreSQL database, tests/conftest.py)."""

from __future__ import annotations

import pytest


async def test_health_reports_database_queue_and_worker(client, users, database_url):
    response = await client.get("/api/health", headers=users.trainee.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "degraded"  # no worker runs in this test
    assert body["database"].pop("latency_ms") >= 0
    # CHATTRAIN_TEST_DATABASE=postgres puts the data on PostgreSQL, and with it the wake-ups
    # (LISTEN/NOTIFY); the queue stays on SQLite.
    data_backend = "postgresql" if database_url else "sqlite"
    assert body["database"] == {"reachable": True, "backend": data_backend}
    assert body["queue"].pop("latency_ms") >= 0
    assert body["queue"] == {
        "backend": "sqlite",
        "reachable": True,
        "depth": 0,
        "open_replies": 0,
        "oldest_queued_seconds": None,
        "wait": {"replies": 0, "p50_ms": None, "p99_ms": None},
    }
    assert body["worker"] == {
        "last_seen_at": None,
        "seconds_since_seen": None,
        "alive": False,
        "live_workers": 0,
        "live_hosts": 0,
        "model_calls": 0,
        "model_calls_waiting": 0,
    }
    assert body["wakeups"] == {"backend": "postgresql" if database_url else "doorbell", "listening": True}
    assert body["timestamp"].endswith("+00:00")
    assert body["version"]
    assert body["scenarios_loaded"] == 2


async def test_scenarios_list_has_the_protocol_fields_and_no_hidden_content(client, users):
    response = await client.get("/api/scenarios", headers=users.trainee.headers)
    assert response.status_code == 200
    scenarios = await response.get_json()
    assert [s["slug"] for s in scenarios] == ["customer-service", "technical-support"]
    assert [s["title"] for s in scenarios] == ["Customer Service Training", "Technical Support Training"]
    for scenario in scenarios:
        assert isinstance(scenario["id"], int)
        assert scenario["description"] and scenario["duration_minutes"] > 0
        assert scenario["documents"]
        for document in scenario["documents"]:
            assert document["url"] == f"/api/documents/{scenario['id']}/{document['filename']}"
        text = str(scenario)
        for hidden in ("expected_keywords", "rubric", "required_keywords", "bot_messages"):
            assert hidden not in text


async def test_scenario_is_found_by_id_or_slug_and_unknown_is_a_json_404(client, users):
    auth = users.trainee.headers
    by_id = await (await client.get("/api/scenarios/1", headers=auth)).get_json()
    by_slug = await (await client.get(f"/api/scenarios/{by_id['slug']}", headers=auth)).get_json()
    assert by_id == by_slug
    missing = await client.get("/api/scenarios/no-such-thing", headers=auth)
    assert missing.status_code == 404
    assert (await missing.get_json())["code"] == "scenario_not_found"


async def test_post_session_returns_201_with_the_seed_fields(client, users):
    response = await client.post(
        "/api/sessions", json={"scenario_id": 1, "user_id": "trainee-1"}, headers=users.trainee.headers
    )
    assert response.status_code == 201
    session = await response.get_json()
    assert session["id"] == session["session_id"]
    assert session["scenario_id"] == 1
    assert session["user_id"] == "trainee-1"
    assert session["status"] == "active"
    assert session["created_at"].endswith("+00:00")
    assert session["websocket_url"].endswith(f"/chat/{session['id']}")
    assert session["websocket_url"].startswith("ws://")


async def test_post_session_accepts_a_slug(client, users):
    response = await client.post(
        "/api/sessions", json={"scenario_id": "technical-support"}, headers=users.trainee.headers
    )
    assert response.status_code == 201
    assert (await response.get_json())["scenario_slug"] == "technical-support"


async def test_post_session_belongs_to_the_token_user_without_a_body_user_id(client, users):
    response = await client.post("/api/sessions", json={"scenario_id": 1}, headers=users.trainee.headers)
    assert response.status_code == 201
    assert (await response.get_json())["user_id"] == "trainee-1"


@pytest.mark.parametrize("who", ["trainee", "trainer"])
async def test_post_session_for_someone_else_is_403_user_mismatch(client, users, who):
    response = await client.post(
        "/api/sessions", json={"scenario_id": 1, "user_id": "trainee-2"}, headers=getattr(users, who).headers
    )
    assert response.status_code == 403
    error = await response.get_json()
    assert error["code"] == "user_mismatch" and error["field"] == "user_id"


async def test_post_session_with_unknown_scenario_is_404(client, users):
    response = await client.post("/api/sessions", json={"scenario_id": 999}, headers=users.trainee.headers)
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "scenario_not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "trainee-1"}, "scenario_id"),
        ({"scenario_id": 1, "user_id": ""}, "user_id"),
        ({"scenario_id": 1, "user_id": 7}, "user_id"),
        ({"scenario_id": [1], "user_id": "trainee-1"}, "scenario_id"),
        ({"scenario_id": 1, "user_id": "trainee-1", "surprise": True}, "surprise"),
    ],
)
async def test_malformed_session_body_is_400_naming_the_field(client, users, body, field):
    response = await client.post("/api/sessions", json=body, headers=users.trainee.headers)
    assert response.status_code == 400
    error = await response.get_json()
    assert error["code"] == "invalid_request"
    assert error["field"].startswith(field)


async def test_non_json_session_body_is_400(client, users):
    response = await client.post(
        "/api/sessions", data="not json", headers={"Content-Type": "application/json", **users.trainee.headers}
    )
    assert response.status_code == 400
    assert "code" in await response.get_json()


async def test_get_session_returns_the_transcript_with_the_opening_line(client, users):
    auth = users.trainee.headers
    created = await (await client.post("/api/sessions", json={"scenario_id": 1}, headers=auth)).get_json()
    response = await client.get(f"/api/sessions/{created['id']}", headers=auth)
    assert response.status_code == 200
    session = await response.get_json()
    assert session["id"] == created["id"]
    assert [m["role"] for m in session["messages"]] == ["assistant"]
    assert session["messages"][0]["content"]


async def test_get_unknown_session_is_404(client, users):
    response = await client.get("/api/sessions/424242", headers=users.trainee.headers)
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "session_not_found"


async def test_declared_document_is_served_as_markdown(client, users):
    scenario = (await (await client.get("/api/scenarios", headers=users.trainee.headers)).get_json())[0]
    document = scenario["documents"][0]
    response = await client.get(document["url"], headers=users.trainee.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/markdown")
    assert (await response.get_data(as_text=True)).strip()


async def test_markdown_is_served_with_one_charset(client, users):
    auth = users.trainee.headers
    session = await (await client.post("/api/sessions", json={"scenario_id": 1}, headers=auth)).get_json()
    for url in (
        "/api/documents/1/billing_and_refund_policy.md",
        f"/api/sessions/{session['id']}/transcript?format=markdown",
    ):
        response = await client.get(url, headers=auth)
        assert response.status_code == 200, url
        assert response.headers.getlist("Content-Type") == ["text/markdown; charset=utf-8"], url


@pytest.mark.parametrize(
    "path",
    [
        "/api/documents/1/not-declared.md",
        "/api/documents/1/../../pyproject.toml",
        "/api/documents/1/..%2F..%2Fpyproject.toml",
        "/api/documents/1/%2E%2E/scenario.yaml",
        "/api/documents/1/scenario.yaml",
        "/api/documents/1//etc/passwd",
        "/api/documents/1/%2Fetc%2Fpasswd",
        "/api/documents/999/anything.md",
        "/api/documents/no-such/anything.md",
    ],
)
async def test_anything_but_a_declared_document_is_404(client, users, path):
    response = await client.get(path, headers=users.trainee.headers)
    assert response.status_code == 404


async def test_openapi_document_and_doc_pages_are_served(client):
    spec = await (await client.get("/openapi.json")).get_json()
    assert "/api/sessions" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redocs")).status_code == 200


async def test_every_json_route_validates_its_response(app):
    """Policy: each API route declares its response model, so OpenAPI documents it."""
    quart_app = app.app
    unvalidated = []
    for rule in quart_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("documents."):
            continue
        view = quart_app.view_functions[rule.endpoint]
        if not getattr(view, "_quart_schema_response_schemas", None):
            unvalidated.append(rule.rule)
    assert unvalidated == []
