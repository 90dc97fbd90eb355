"""Issue 6's acceptance test: personal data a trainee types never reaches the LLM, the
database or the logs. The real processes, the OpenAI-compatible provider pointed at the
fake server, a real WebSocket; then every table, every file in the data folder, every
request the LLM server received and both processes' logs are searched for the values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.fake_openai import FakeOpenAIServer
from tests.support.client import ChatClient, create_session
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PII_MESSAGE = "I'm Jane Roe, jane.roe@example.com, card 4111 1111 1111 1111, call me on +44 20 7946 0958"
# The values as typed, and the normalised forms the masking works with.
FORBIDDEN = (
    "Jane Roe",
    "jane.roe@example.com",
    "4111 1111 1111 1111",
    "4111111111111111",
    "+44 20 7946 0958",
    "7946 0958",
    "+442079460958",
    "2079460958",
)
REPLY = "Okay, thanks for the details. Now can you sort out the double charge on my card today?"
FINDING_KEYS = {"type", "start", "end", "placeholder"}


@pytest.fixture(name="fake_llm")
def _fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=REPLY) as server:
        yield server


@pytest.fixture(name="pii_stack")
def _pii_stack(tmp_path: Path, fake_llm: FakeOpenAIServer, backends) -> Iterator[Stack]:  # noqa: ANN001
    env = {
        "CHATTRAIN_LLM_PROVIDER": "openai",
        "CHATTRAIN_LLM_BASE_URL": fake_llm.base_url,
        "CHATTRAIN_LLM_API_KEY": "sk-e2e-pii",
        "CHATTRAIN_LOG_LEVEL": "DEBUG",  # the most the processes ever log
    }
    stack = Stack(data_dir=tmp_path / "data", extra_env=env, backends=backends)
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


def dump_database(stack: Stack) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-null value of every table, as text."""
    from sqlalchemy import MetaData, select

    from shared.db.engine import create_sync_engine

    found = []
    engine = create_sync_engine(stack.database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    found += [
                        (table.name, column, str(value)) for column, value in row._mapping.items() if value is not None
                    ]
    finally:
        engine.dispose()
    return found


def leaks(text: str) -> list[str]:
    folded = text.casefold()
    return [value for value in FORBIDDEN if value.casefold() in folded]


async def test_personal_data_from_the_trainee_reaches_neither_the_llm_nor_the_database_nor_the_logs(
    pii_stack: Stack, fake_llm: FakeOpenAIServer
):
    token = pii_stack.token
    session = await create_session(pii_stack.base_url, token=token)
    chat = await ChatClient.connect(f"{pii_stack.ws_base}/chat/{session['id']}?after=0", token=token)
    try:
        ack, reply = await chat.say(PII_MESSAGE, timeout=30)
        await chat.send("end_session")  # the report quotes the trainee: it must quote the masked text
        complete = await chat.recv_until("session_complete", timeout=30)
    finally:
        await chat.close()
    assert reply["content"] == REPLY
    assert complete["summary"]["exchanges"] == 1
    transcripts = [
        httpx.get(
            f"{pii_stack.base_url}/api/sessions/{session['id']}/transcript",
            params={"format": fmt},
            headers={"Authorization": f"Bearer {token}"},
        ).text
        for fmt in ("json", "markdown")
    ]
    pii_stack.stop_all()  # every log line written, every transaction committed

    # What the trainee sees of their own message, and what is stored, is the masked text.
    [(content, metadata_json)] = pii_stack.rows(
        "SELECT content, metadata_json FROM messages WHERE id = :id", id=ack["message_id"]
    )
    for placeholder in ("[NAME_1]", "[EMAIL_1]", "[CARD_1]", "[PHONE_1]"):
        assert placeholder in content, content
    findings = json.loads(metadata_json)["masking"]
    assert {finding["type"] for finding in findings} >= {"NAME", "EMAIL", "CARD", "PHONE"}
    for finding in findings:
        assert set(finding) == FINDING_KEYS, finding  # type, span, placeholder: never the value
        assert 0 <= finding["start"] < finding["end"] <= len(PII_MESSAGE)
    assert "[EMAIL_1]" in transcripts[0]
    assert [leaks(transcript) for transcript in transcripts] == [[], []]

    # The LLM's input: every request the server received, headers and all.
    requests = fake_llm.requests
    assert len(requests) == 1
    sent = json.dumps(requests, ensure_ascii=False)
    assert "[EMAIL_1]" in requests[0]["body"]["messages"][-1]["content"]
    assert leaks(sent) == []

    # Every value in every table of the database.
    rows = dump_database(pii_stack)
    assert {table for table, _, _ in rows} >= {"messages", "events", "sessions", "reports", "llm_usage"}
    assert [(table, column, leaks(value)) for table, column, value in rows if leaks(value)] == []

    # Every byte of every file in the data folders: database pages and WAL, the Huey queue,
    # the doorbells, the logs (on PostgreSQL + Redis, each process's folder and the logs).
    files = [path for path in pii_stack.data_dir.rglob("*") if path.is_file()]
    assert any(path.name == "queue.db" for path in files) == (not pii_stack.backends.queue_url)
    for path in files:
        assert leaks(path.read_bytes().decode("utf-8", errors="replace")) == [], path

    # Both processes' logs, at DEBUG.
    for name in ("web", "worker"):
        log = pii_stack.log_text(name)
        assert "session_id=" in log or name == "web"
        assert leaks(log) == [], name


async def test_personal_data_in_the_llms_reply_is_masked_before_it_is_stored_or_sent(
    pii_stack: Stack, fake_llm: FakeOpenAIServer
):
    # A model that echoes (or invents) personal data: the worker masks its output too.
    fake_llm.set_reply("Fine. My email is jane.roe@example.com and my card is 4111 1111 1111 1111.")
    token = pii_stack.token
    session = await create_session(pii_stack.base_url, token=token)
    chat = await ChatClient.connect(f"{pii_stack.ws_base}/chat/{session['id']}?after=0", token=token)
    try:
        _, reply = await chat.say("Hello, how can I help you today?", timeout=30)
    finally:
        await chat.close()
    assert "[EMAIL_1]" in reply["content"] and "[CARD_1]" in reply["content"]
    assert leaks(json.dumps(chat.received)) == []
    pii_stack.stop_all()
    rows = dump_database(pii_stack)
    assert [(table, column) for table, column, value in rows if leaks(value)] == []


async def test_a_slowly_streamed_reply_never_sends_part_of_a_card_or_phone_number(pii_stack, fake_llm):
    fake_llm.set_reply("Fine. My card is 4111 1111 1111 1111 and my phone is +44 20 7946 0958.", chunk_chars=5)
    fake_llm.queue(chunk_delay_seconds=0.07)  # each chunk is flushed to the trainee on its own
    token = pii_stack.token
    session = await create_session(pii_stack.base_url, token=token)
    chat = await ChatClient.connect(f"{pii_stack.ws_base}/chat/{session['id']}?after=0", token=token)
    try:
        _, reply = await chat.say("Hello, how can I help you today?", timeout=30)
    finally:
        await chat.close()
    assert "[CARD_1]" in reply["content"] and "4111" not in reply["content"] and "7946" not in reply["content"]
    streamed = "".join(frame["content"] for frame in chat.received if frame["type"] == "assistant_delta")
    assert "4111" not in streamed and "+44 20" not in streamed
