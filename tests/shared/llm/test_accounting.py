"""LLM accounting on a real, migrated SQLite file: tokens per user per UTC day, the daily
budget, and the provider's last call outcome; and the schema the migrations build."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from shared.db import usage as usage_rows
from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.migrate import upgrade_to_head
from shared.db.schema import metadata, scenarios
from shared.db.sessions import insert_session
from shared.llm import LLMError, Usage
from shared.llm import accounting as llm_accounting

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(name="engine")
def _engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'chattrain.db'}"
    upgrade_to_head(url)
    engine = create_sync_engine(url).execution_options(**{BEGIN_MODE: "IMMEDIATE"})
    yield engine
    engine.dispose()


def _session(engine: Engine, user_id: str) -> int:
    with engine.begin() as conn:
        if conn.execute(scenarios.select()).first() is None:
            conn.execute(
                scenarios.insert().values(id=1, slug="s", title="S", config_json="{}", file_path="s", updated_at="x")
            )
        return insert_session(conn, scenario_id=1, user_id=user_id)["id"]


def test_the_migrations_build_exactly_the_schema_module(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_each_stored_reply_adds_its_tokens_to_its_users_utc_day(engine):
    alice, bob = _session(engine, "alice"), _session(engine, "bob")
    with engine.begin() as conn:
        llm_accounting.record_reply(conn, session_id=alice, provider="openai", usage=Usage(100, 20), now=NOON)
        llm_accounting.record_reply(conn, session_id=alice, provider="openai", usage=Usage(150, 30), now=NOON)
        llm_accounting.record_reply(conn, session_id=bob, provider="openai", usage=Usage(7, 3), now=NOON)
        # 23:59:59 UTC is still the same day; a minute later is the next one.
        late = NOON.replace(hour=23, minute=59, second=59)
        llm_accounting.record_reply(conn, session_id=alice, provider="openai", usage=Usage(1, 1), now=late)
        llm_accounting.record_reply(
            conn, session_id=alice, provider="openai", usage=Usage(5, 5), now=late + timedelta(minutes=1)
        )
        rows = usage_rows.select_usage(conn, first_day="2026-11-25", last_day="2026-11-26")
        assert usage_rows.select_tokens_used(conn, "alice", "2026-11-25") == 302
        assert usage_rows.select_tokens_used(conn, "nobody", "2026-11-25") == 0
    assert [(r["day"], r["user_id"], r["prompt_tokens"], r["completion_tokens"], r["replies"]) for r in rows] == [
        ("2026-11-25", "alice", 251, 51, 3),
        ("2026-11-25", "bob", 7, 3, 1),
        ("2026-11-26", "alice", 5, 5, 1),
    ]


def test_usage_can_be_read_for_one_user_and_a_range_of_days(engine):
    alice = _session(engine, "alice")
    bob = _session(engine, "bob")
    with engine.begin() as conn:
        for offset in range(3):
            day = NOON + timedelta(days=offset)
            llm_accounting.record_reply(conn, session_id=alice, provider="mock", usage=Usage(10, 1), now=day)
            llm_accounting.record_reply(conn, session_id=bob, provider="mock", usage=Usage(20, 2), now=day)
        rows = usage_rows.select_usage(conn, first_day="2026-11-26", last_day="2026-11-27", user_id="bob")
    assert [(r["day"], r["user_id"]) for r in rows] == [("2026-11-26", "bob"), ("2026-11-27", "bob")]


def test_a_graded_report_counts_tokens_but_not_a_reply(engine):
    with engine.begin() as conn:
        llm_accounting.record_grading(conn, user_id="alice", provider="openai", usage=Usage(400, 80), now=NOON)
        (row,) = usage_rows.select_usage(conn, first_day="2026-11-25", last_day="2026-11-25")
    assert (row["prompt_tokens"], row["completion_tokens"], row["replies"]) == (400, 80, 0)


def test_the_budget_refuses_once_the_users_tokens_today_reach_it(engine):
    alice = _session(engine, "alice")
    llm_accounting.check_daily_budget(engine, user_id="alice", budget=100, now=NOON)  # nothing spent yet
    with engine.begin() as conn:
        llm_accounting.record_reply(conn, session_id=alice, provider="openai", usage=Usage(90, 9), now=NOON)
    llm_accounting.check_daily_budget(engine, user_id="alice", budget=100, now=NOON)  # 99 < 100
    with engine.begin() as conn:
        llm_accounting.record_reply(conn, session_id=alice, provider="openai", usage=Usage(1, 0), now=NOON)
    with pytest.raises(LLMError) as refused:
        llm_accounting.check_daily_budget(engine, user_id="alice", budget=100, now=NOON)
    assert refused.value.code == "llm_budget_exceeded" and refused.value.retryable is False
    assert "100 tokens" in refused.value.message and "00:00 UTC" in refused.value.message
    llm_accounting.check_daily_budget(engine, user_id="bob", budget=100, now=NOON)  # per user
    llm_accounting.check_daily_budget(engine, user_id="alice", budget=100, now=NOON + timedelta(days=1))
    llm_accounting.check_daily_budget(engine, user_id="alice", budget=0, now=NOON)  # 0: no budget


def test_a_budget_of_zero_never_touches_the_database():
    class NoEngine:
        def connect(self):  # noqa: ANN202
            raise AssertionError("the budget is off: no query")

    llm_accounting.check_daily_budget(NoEngine(), user_id="alice", budget=0)  # type: ignore[arg-type]


def test_provider_health_follows_the_latest_call(engine):
    def status() -> dict:
        with engine.connect() as conn:
            return llm_accounting.provider_health(usage_rows.select_provider_status(conn, "openai"))

    assert status() == {"last_call_ok": None, "last_success_at": None, "last_failure_at": None, "last_error_code": None}
    alice = _session(engine, "alice")
    with engine.begin() as conn:
        llm_accounting.record_reply(conn, session_id=alice, provider="openai", usage=Usage(1, 1), now=NOON)
    assert status()["last_call_ok"] is True
    with engine.begin() as conn:
        llm_accounting.record_failure(conn, provider="openai", code="llm_timeout", now=NOON + timedelta(seconds=1))
    failed = status()
    assert failed["last_call_ok"] is False and failed["last_error_code"] == "llm_timeout"
    assert failed["last_success_at"] == NOON.isoformat(timespec="milliseconds")
    with engine.begin() as conn:
        llm_accounting.record_reply(
            conn, session_id=alice, provider="openai", usage=Usage(1, 1), now=NOON + timedelta(seconds=2)
        )
    assert status()["last_call_ok"] is True and status()["last_error_code"] == "llm_timeout"


@pytest.mark.parametrize("code", ["llm_budget_exceeded", "internal_error", "claim_lost"])
def test_failures_that_are_not_the_providers_leave_its_status_alone(engine, code):
    with engine.begin() as conn:
        llm_accounting.record_failure(conn, provider="openai", code=code, now=NOON)
        assert usage_rows.select_provider_status(conn, "openai") is None


def test_each_provider_has_its_own_status(engine):
    with engine.begin() as conn:
        llm_accounting.record_failure(conn, provider="openai", code="llm_unavailable", now=NOON)
        assert usage_rows.select_provider_status(conn, "mock") is None
        assert usage_rows.select_provider_status(conn, "openai")["last_error_code"] == "llm_unavailable"
