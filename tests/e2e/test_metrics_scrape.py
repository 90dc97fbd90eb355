"""/metrics scraped from the real processes after a real conversation, parsed with
prometheus_client's own parser: the replies are counted, their latencies agree with the
reply_jobs rows, the worker is live and the open socket is counted by the process that
holds it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import ChatClient, create_session
from tests.support.stack import Stack, started_stack

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "e2e-metrics-token-0123456789abcdef"
LINES = [
    "Hello, I'm sorry to hear about the trouble. How can I help you today?",
    "Thank you. Could you confirm the email address on the account, please?",
]


def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{stack.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sockets_open(values: dict, pid: int) -> float:
    return values[("chattrain_open_sockets", (("pid", str(pid)),))]


async def test_a_scrape_after_a_conversation_counts_it(tmp_path: Path):
    with started_stack(tmp_path / "data", CHATTRAIN_METRICS_TOKEN=METRICS_TOKEN) as stack:
        web_pid = stack.processes["web"].pid  # the Procfile's command is exec'd: the server itself
        session = await create_session(stack.base_url, token=stack.token)
        chat = await ChatClient.connect(f"{stack.ws_base}/chat/{session['id']}?after=0", token=stack.token)
        try:
            for line in LINES:
                await chat.say(line, timeout=30)
            during = scrape(stack)
        finally:
            await chat.close()

        # The closed socket leaves the count once the server has seen it go.
        deadline = time.monotonic() + 10
        after = scrape(stack)
        while sockets_open(after, web_pid) != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            after = scrape(stack)

        rows = stack.rows(
            "SELECT j.model_requested_at - j.enqueued_at FROM reply_jobs j "
            "JOIN messages m ON m.id = j.message_id WHERE m.session_id = :id",
            id=session["id"],
        )
        waits = sorted(wait for (wait,) in rows)

    assert sockets_open(during, web_pid) == 1 and sockets_open(after, web_pid) == 0
    assert after[("chattrain_database_up", ())] == 1 and after[("chattrain_queue_up", ())] == 1
    assert after[("chattrain_live_workers", ())] == 1 and after[("chattrain_live_worker_hosts", ())] == 1
    assert after[("chattrain_replies_finished_total", (("status", "done"),))] == 2
    assert after[("chattrain_replies_finished_total", (("status", "failed"),))] == 0
    assert after[("chattrain_open_replies", (("status", "queued"),))] == 0
    assert after[("chattrain_open_replies", (("status", "working"),))] == 0
    assert after[("chattrain_queue_depth", ())] == 0
    assert after[("chattrain_recent_replies", ())] == 2
    assert not [name for name, _ in after if name == "chattrain_model_errors_total"]
    # Two replies: by nearest rank the median and the 99th percentile are the longer wait.
    assert len(waits) == 2
    assert after[("chattrain_queue_wait_seconds", (("quantile", "0.99"),))] == pytest.approx(max(0.0, waits[1]))
    assert after[("chattrain_queue_wait_seconds", (("quantile", "0.5"),))] == pytest.approx(max(0.0, waits[1]))
    for quantile in ("0.5", "0.9", "0.99"):
        wait = after[("chattrain_queue_wait_seconds", (("quantile", quantile),))]
        first_chunk = after[("chattrain_reply_latency_seconds", (("quantile", quantile), ("until", "first_chunk")))]
        stored = after[("chattrain_reply_latency_seconds", (("quantile", quantile), ("until", "stored")))]
        # Each reply waits in the queue, then for its first chunk, then is stored.
        assert 0 <= wait <= first_chunk + 0.01 and first_chunk <= stored + 0.01 and stored < 30
