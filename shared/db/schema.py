"""The database schema as SQLAlchemy Core tables: the single description both processes
and the Alembic migrations agree on."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import Integer as SQLiteInteger

metadata = MetaData()

# Every integer is 64-bit: SQLite's INTEGER is, and PostgreSQL's BIGINT (migration 0011).
# On SQLite it must stay INTEGER, which makes an `INTEGER PRIMARY KEY` the rowid.
Integer = BigInteger().with_variant(SQLiteInteger(), "sqlite")

# SQLite's INTEGER is signed 64-bit: an id, count or cursor beyond it cannot be stored or
# compared (the driver raises OverflowError), so input is bounded to it where it is read.
MAX_SQLITE_INTEGER = 2**63 - 1

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("config_json", Text, nullable=False),
    Column("file_path", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scenario_id", Integer, ForeignKey("scenarios.id"), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("created_at", Text, nullable=False),
    Column("completed_at", Text),
    # Masking vault and other per-session state; never raw personal data.
    Column("data_json", Text, nullable=False, server_default="{}"),
    Column("last_activity_at", Text, nullable=False),
    Column("ended_by", Text),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_scenario_id", "scenario_id"),
    # The worker's sweeps look for active sessions past their time and completed ones
    # without a report, every few seconds.
    Index("ix_sessions_status_created_at", "status", "created_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("timestamp", Text, nullable=False),
    Column("metadata_json", Text),
    # The trainee message an assistant reply answers. Unique: a retried or duplicated
    # reply job can never store a second reply.
    Column("reply_to", Integer, ForeignKey("messages.id"), unique=True),
    # A keyed digest of the client's id, never the id (shared/masking/client_ids.py).
    Column("client_message_id", Text),
    UniqueConstraint("session_id", "client_message_id", name="uq_messages_session_client_id"),
    Index("ix_messages_session_id", "session_id", "id"),
    # Counting a session's customer or trainee lines reads only this index.
    Index("ix_messages_session_role", "session_id", "role", "id"),
)

# Append-only log of what the server tells a session's sockets; the web process tails it.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("type", Text, nullable=False),
    Column("message_id", Integer),
    Column("payload_json", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    # The event's number within its session, from 1: the event_id clients see and resume
    # from (the global id would tell them how busy everyone else is).
    Column("seq", Integer, nullable=False, server_default="0"),
    Index("ix_events_session_seq", "session_id", "seq", unique=True),
    # A reply's own events (its deltas, on a retry) without walking the session's log.
    Index("ix_events_message_id", "message_id", "id"),
    sqlite_autoincrement=True,
)

# One row per trainee message that needs a reply: the source of truth for retries and
# crash recovery (the Huey queue only prompts work).
reply_jobs = Table(
    "reply_jobs",
    metadata,
    Column("message_id", Integer, ForeignKey("messages.id"), primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("status", Text, nullable=False),  # queued | working | done | failed | expired
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("worker_id", Text),
    Column("claim_expires_at", Float),  # epoch seconds
    Column("enqueued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_error", Text),
    # When the last run asked the model, and got its first and last chunk (epoch seconds):
    # the queue wait is model_requested_at - enqueued_at.
    Column("model_requested_at", Float),
    Column("model_first_chunk_at", Float),
    Column("model_last_chunk_at", Float),
    Index("ix_reply_jobs_status", "status"),
    Index("ix_reply_jobs_model_requested_at", "model_requested_at"),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    # At the last heartbeat: calls to the model in progress, and replies waiting for a slot
    Column("model_calls", Integer, nullable=False, server_default="0"),
    Column("model_calls_waiting", Integer, nullable=False, server_default="0"),
)

reports = Table(
    "reports",
    metadata,
    Column("session_id", Integer, ForeignKey("sessions.id"), primary_key=True),
    Column("report_json", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)

# People who may use the API. `id` is the user_id stored in sessions.user_id. Only a
# hash of each token is kept (see shared/db/users.py), so a copy of the database does
# not let anyone sign in.
users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("role", Text, nullable=False),  # trainee | trainer
    Column("display_name", Text),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", Text, nullable=False),
    # Raised whenever the user's credentials are revoked (token rotated, user disabled),
    # to a value from one sequence across users, so each web process can ask which users
    # were revoked since the last value it saw and close their open sockets
    # (web/revocation.py). 0: never revoked.
    Column("credentials_revision", Integer, nullable=False, server_default="0"),
    # When they last exchanged a sign-in link for a browser session (UTC ISO 8601); null
    # until then. Shown to trainers in the People list.
    Column("last_sign_in_at", Text),
    # When `chattrain users erase` removed everything of theirs (UTC ISO 8601); the row
    # stays as a tombstone without personal data (shared/db/erasure.py). Null: not erased.
    Column("erased_at", Text),
    Index("ix_users_credentials_revision", "credentials_revision"),
)

# Short-lived, single-use WebSocket tickets (POST /api/ws-ticket), stored hashed.
ws_tickets = Table(
    "ws_tickets",
    metadata,
    Column("ticket_hash", Text, primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), nullable=False),
    Column("expires_at", Float, nullable=False),  # epoch seconds
    Index("ix_ws_tickets_expires_at", "expires_at"),
)

# Sign-in links (`chattrain users sign-in-link`): single-use, short-lived codes a browser
# exchanges for a browser session, both stored hashed like tokens (shared/db/browser_sessions.py).
sign_in_codes = Table(
    "sign_in_codes",
    metadata,
    Column("code_hash", Text, primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), nullable=False),
    Column("expires_at", Float, nullable=False),  # epoch seconds
    Index("ix_sign_in_codes_expires_at", "expires_at"),
)

# A browser's signed-in session (the HttpOnly cookie holds its secret). It is valid while
# unexpired and while its user is enabled at the credentials_revision it was made at.
browser_sessions = Table(
    "browser_sessions",
    metadata,
    Column("session_hash", Text, primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), nullable=False),
    Column("credentials_revision", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),  # epoch seconds
    Index("ix_browser_sessions_expires_at", "expires_at"),
)

# Fixed-window counters for per-user limits that must hold across web processes. Each
# hit prunes the user's older windows for that action, so the table stays at about one
# row per user and action.
rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("action", Text, primary_key=True),
    Column("window_start", Integer, primary_key=True),  # epoch seconds
    Column("count", Integer, nullable=False),
)

# LLM tokens spent per user per UTC day (YYYY-MM-DD): one upsert per stored reply (and
# per LLM-graded report), read for the daily budget and GET /api/usage.
llm_usage = Table(
    "llm_usage",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("day", Text, primary_key=True),
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("replies", Integer, nullable=False, server_default="0"),
    Index("ix_llm_usage_day", "day"),
)

# How each LLM provider's most recent calls went, for /api/health: written by the worker
# in the transaction that stores the reply or the failure.
provider_status = Table(
    "provider_status",
    metadata,
    Column("provider", Text, primary_key=True),
    Column("last_success_at", Text),  # ISO 8601 UTC
    Column("last_failure_at", Text),  # ISO 8601 UTC
    Column("last_error_code", Text),  # the code of the last failure (kept after a success)
)
