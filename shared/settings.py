"""All settings, read once from CHATTRAIN_* environment variables.

Names carry their unit. The README's settings table lists every field here; keep the two
in step.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("chattrain")

# Keys the masking vault only where no key is needed: masking off, or insecure-dev mode.
DEV_ONLY_SECRET_KEY = b"dev-only-insecure-secret"

# Loopback: a fresh install answers only on this machine. Listening publicly is a choice
# made on purpose (CHATTRAIN_HOST=0.0.0.0), usually behind a reverse proxy.
DEFAULT_HOST = "127.0.0.1"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATTRAIN_", frozen=True, extra="ignore")

    # Storage
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file chattrain.db under data_dir
    queue_path: Path | None = None  # empty: queue.db under data_dir (Huey's own SQLite file)
    scenarios_dir: Path = Path("scenarios")

    # Web
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:3000", "http://localhost:5173")
    public_base_url: str = ""  # used to build websocket_url; empty: derived from the request (below)
    # Host names (no port) a request's Host header may be trusted for when websocket_url is
    # built from the request; any other Host gets a relative URL. A Host header is the
    # client's to choose: echoing any would send a client and its token wherever it says.
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
    max_message_chars: int = 4000
    max_frame_bytes: int = 65536
    ws_ping_interval_seconds: float = 20.0
    ws_compression: bool = False  # permessage-deflate costs ~105 KiB per socket
    event_poll_interval_ms: int = Field(default=1000, ge=10)  # fallback when no doorbell rings
    wal_checkpoint_interval_ms: int = Field(default=200, ge=10)  # background WAL checkpoints (shared/db/checkpoint.py)
    wal_checkpoint_min_frames: int = Field(default=1000, ge=1)  # ...of logs holding this many uncopied pages

    # Worker
    # Fallback when no doorbell rings (a receive timeout; 0 would mean none at all)
    worker_poll_interval_ms: int = Field(default=1000, ge=10)
    reply_lease_seconds: float = 10.0
    reply_max_attempts: int = 4
    reply_retry_base_delay_seconds: float = 1.0
    reply_expiry_seconds: float = 300.0
    sweep_interval_seconds: float = 5.0
    stream_batch_ms: int = 100  # deltas of a streamed reply are written at most this often

    # LLM
    llm_provider: Literal["mock", "openai"] = "mock"
    llm_base_url: str = "https://api.openai.com/v1"
    llm_api_key: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_request_timeout_seconds: float = 30.0
    llm_total_timeout_seconds: float = 90.0
    llm_max_retries: int = 3  # for grading calls; a reply's attempts are reply_max_attempts
    # Model calls one worker process makes at once; more replies wait for a slot (the
    # queue wait in /api/health). Keep at or below the Procfile's --workers.
    llm_max_concurrent_requests: int = Field(default=500, ge=1)
    llm_context_tokens: int = 6000
    llm_history_messages: int = 60  # most recent messages read as context for a reply
    llm_daily_token_budget_per_user: int = Field(default=0, ge=0)  # tokens per UTC day; 0: no budget
    llm_grading: Literal["off", "on"] = "off"  # reports also graded by the LLM (openai provider only)
    mock_llm_first_chunk_ms: int = 0
    mock_llm_chunks_per_second: float = 0.0  # 0: whole reply at once
    mock_llm_chunk_chars: int = 12
    # A model that stalls now and then: replies in sessions whose id is a multiple of
    # mock_llm_stall_every_nth_session wait this long before their first chunk (0: never)
    mock_llm_stall_ms: int = Field(default=0, ge=0)
    mock_llm_stall_every_nth_session: int = Field(default=10, ge=1)

    # Masking. The key keys the vault's digests of masked values: with a key anyone can
    # read, a digest of a short value (an SSN) is brute-forced in minutes, so with
    # masking on there is no default outside insecure-dev mode (see masking_key).
    masking: Literal["on", "off"] = "on"
    secret_key: str = Field(default="", repr=False)
    # A file holding the key, for a key kept out of the environment (`make run` generates
    # one, `chattrain secret-key ensure`); CHATTRAIN_SECRET_KEY wins when both are set.
    secret_key_file: str = ""

    # Logging: DEBUG adds a line per trainee message and per reply (ChatTrain's loggers only)
    log_level: str = "INFO"

    # Auth and limits. A limit of 0 turns that limit off.
    auth_mode: Literal["required", "insecure-dev"] = "required"  # insecure-dev: loopback only
    host: str = DEFAULT_HOST  # the address web/hypercorn_config.py binds (CHATTRAIN_HOST)
    ws_ticket_ttl_seconds: int = Field(default=60, ge=1, le=600)
    sign_in_link_ttl_seconds: int = Field(default=900, ge=10, le=86400)  # a sign-in link's code, single use
    browser_session_ttl_seconds: int = Field(default=43200, ge=60)  # the web app's session cookie
    messages_per_window: int = Field(default=30, ge=0)  # per user
    message_window_seconds: int = Field(default=60, ge=1)
    sessions_per_window: int = Field(default=10, ge=0)  # session creations per user
    session_window_seconds: int = Field(default=3600, ge=1)
    ws_tickets_per_window: int = Field(default=30, ge=0)  # per user
    ws_ticket_window_seconds: int = Field(default=60, ge=1)
    max_active_sessions_per_user: int = Field(default=5, ge=0)

    @field_validator("cors_allowed_origins")
    @classmethod
    def _no_wildcard_origin(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        # The CORS layer always allows credentials (the Authorization header), and a
        # wildcard with credentials would let any web page call the API as its visitor.
        if any(origin.strip() == "*" for origin in origins):
            raise ValueError("'*' is not allowed: list the frontend's origins explicitly (credentials are allowed)")
        return origins

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        # Compared with the Host header's name, lower-cased and without brackets or port.
        return tuple(host.strip().strip("[]").lower() for host in hosts if host.strip())

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, level: str) -> str:
        if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level.upper()

    @cached_property
    def resolved_database_url(self) -> str:
        """SQLAlchemy URL of the chat database."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chattrain.db').resolve()}"

    @cached_property
    def resolved_queue_path(self) -> Path:
        return (self.queue_path or self.data_dir / "queue.db").resolve()

    @cached_property
    def doorbell_dir(self) -> Path:
        return (self.data_dir / "doorbells").resolve()

    @cached_property
    def masking_key(self) -> bytes:
        """The masking vault's key: CHATTRAIN_SECRET_KEY, else the contents of
        CHATTRAIN_SECRET_KEY_FILE. Without either, a well-known development key, but only
        where that cannot hurt: with masking off, or in insecure-dev mode (loopback only,
        with a warning). Otherwise SecretKeyMissing, so that neither process starts."""
        if self.secret_key:
            return self.secret_key.encode()
        if self.secret_key_file:
            return _read_key_file(Path(self.secret_key_file))
        if self.masking == "on" and self.auth_mode != "insecure-dev":
            raise SecretKeyMissing(
                "CHATTRAIN_MASKING=on needs a secret key for the masking vault: set CHATTRAIN_SECRET_KEY to a long "
                "random value (python -c 'import secrets; print(secrets.token_urlsafe(32))'), the same for every web "
                "and worker process, or point CHATTRAIN_SECRET_KEY_FILE at a file holding one "
                "(`chattrain secret-key ensure` writes one into the data folder, as `make run` does)."
            )
        if self.masking == "on":
            log.warning(
                "No CHATTRAIN_SECRET_KEY: the masking vault uses a well-known development key, so masked values "
                "can be recovered from their digests by anyone who reads the database (allowed in insecure-dev mode only)"
            )
        return DEV_ONLY_SECRET_KEY


class SecretKeyMissing(RuntimeError):
    """Masking is on and no secret key is configured."""


def _read_key_file(path: Path) -> bytes:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SecretKeyMissing(f"CHATTRAIN_SECRET_KEY_FILE: cannot read {path} ({error.strerror})") from None
    if not key:
        raise SecretKeyMissing(f"CHATTRAIN_SECRET_KEY_FILE: {path} is empty")
    return key.encode()


def load_settings() -> Settings:
    """Read settings from the environment and make sure the data folder exists."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
