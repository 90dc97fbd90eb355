"""GET /metrics on the real app: off (404) without CHATTRAIN_METRICS_TOKEN, 401 without
the right token, and with it the Prometheus text a scraper parses, its values read from
the database, the queue and this process. (After a real conversation with a worker:
tests/e2e/test_metrics_scrape.py.)"""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from shared.settings import Settings
from tests.support.client import open_socket, read_session_start
from tests.support.stack import REPO_ROOT
from web.app import create_app

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(name="metrics_app")
async def _metrics_app(tmp_path, database_url):
    settings = Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        metrics_token=METRICS_TOKEN,
    )
    async with create_app(settings).test_app() as test_app:
        yield test_app


async def test_metrics_are_off_without_a_token_setting_even_for_a_trainer(client, users):
    for headers in ({}, users.trainer.headers, {"Authorization": f"Bearer {METRICS_TOKEN}"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 404
        body = await response.get_json()
        assert body["code"] == "not_found" and "CHATTRAIN_METRICS_TOKEN" in body["detail"]


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token-of-some-length", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"]
)
async def test_metrics_need_the_metrics_token(metrics_app, header):
    headers = {} if header is None else {"Authorization": header}
    response = await metrics_app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert (await response.get_json())["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_user_token_does_not_open_the_metrics(metrics_app):
    from tests.conftest import create_test_user

    trainer = await create_test_user(metrics_app, "trainer", "trainer-1")
    response = await metrics_app.test_client().get("/metrics", headers=trainer.headers)
    assert response.status_code == 401


async def test_a_short_metrics_token_is_refused_by_name(tmp_path):
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(data_dir=tmp_path, metrics_token="short")


async def test_a_scrape_reports_a_queued_reply_and_an_open_socket(metrics_app):
    from tests.conftest import create_test_user

    client = metrics_app.test_client()
    trainee = await create_test_user(metrics_app, "trainee", "trainee-1")
    scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=trainee.headers)
    session_id = (await created.get_json())["id"]

    before = await client.get("/metrics", headers=scrape)
    assert before.status_code == 200
    assert before.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = samples(await before.get_data(as_text=True))
    pid = next(dict(labels)["pid"] for name, labels in values if name == "chattrain_open_sockets")
    assert values[("chattrain_open_sockets", (("pid", pid),))] == 0
    assert values[("chattrain_database_up", ())] == 1 and values[("chattrain_queue_up", ())] == 1
    assert values[("chattrain_live_workers", ())] == 0  # no worker runs beside the test app
    assert values[("chattrain_queue_depth", ())] == 0

    async with open_socket(client, f"/chat/{session_id}", trainee) as ws:
        await read_session_start(ws)
        await ws.send(json.dumps({"type": "user_message", "content": "Hello, how can I help you today?"}))
        ack = json.loads(await ws.receive())
        assert ack["type"] == "message_ack", ack
        during = samples(await (await client.get("/metrics", headers=scrape)).get_data(as_text=True))
    after = samples(await (await client.get("/metrics", headers=scrape)).get_data(as_text=True))

    assert during[("chattrain_open_sockets", (("pid", pid),))] == 1
    assert after[("chattrain_open_sockets", (("pid", pid),))] == 0
    # No worker: the reply waits in the queue, and is an open reply in the database.
    assert after[("chattrain_queue_depth", ())] == 1
    assert after[("chattrain_open_replies", (("status", "queued"),))] == 1
    assert after[("chattrain_open_replies", (("status", "working"),))] == 0
    assert after[("chattrain_replies_finished_total", (("status", "done"),))] == 0
    assert after[("chattrain_recent_replies", ())] == 0
    # No reply yet: the quantiles are absent, not 0.
    assert not [
        name for name, _ in after if name in ("chattrain_queue_wait_seconds", "chattrain_reply_latency_seconds")
    ]


async def test_failed_replies_are_counted_by_their_model_error_code(metrics_app):
    from shared.db.jobs import finish_reply_job
    from tests.conftest import create_test_user

    client = metrics_app.test_client()
    trainee = await create_test_user(metrics_app, "trainee", "trainee-1")
    created = await client.post("/api/sessions", json={"scenario_id": 1}, headers=trainee.headers)
    session_id = (await created.get_json())["id"]
    message_ids = []
    async with open_socket(client, f"/chat/{session_id}", trainee) as ws:
        await read_session_start(ws)
        for index in range(3):
            await ws.send(json.dumps({"type": "user_message", "content": f"Line number {index} for you."}))
            message_ids.append(json.loads(await ws.receive())["message_id"])
    # What a worker writes when the model fails a reply for good (worker/tasks.py).
    for message_id, code in zip(message_ids, ["llm_timeout", "llm_timeout", "LLM Odd/Code"], strict=True):
        await metrics_app.app.db.write(finish_reply_job, message_id, status="failed", last_error=code)

    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    values = samples(await response.get_data(as_text=True))
    assert values[("chattrain_model_errors_total", (("code", "llm_timeout"),))] == 2
    assert values[("chattrain_model_errors_total", (("code", "llm_odd_code"),))] == 1  # made a safe label
    assert values[("chattrain_replies_finished_total", (("status", "failed"),))] == 3
    assert values[("chattrain_open_replies", (("status", "queued"),))] == 0


def test_error_codes_beyond_the_cap_are_counted_under_other():
    from web.metrics import MOST_ERROR_CODES, _capped_codes

    failures = {f"code_{index:02d}": 100 - index for index in range(MOST_ERROR_CODES + 5)}
    capped = _capped_codes(failures)
    assert len(capped) == MOST_ERROR_CODES + 1
    assert capped["other"] == sum(100 - index for index in range(MOST_ERROR_CODES, MOST_ERROR_CODES + 5))
    assert sum(capped.values()) == sum(failures.values())
