"""All settings, read once from CHATTRAIN_* environment variables.

Names carry their unit. Each field's description is its documentation: docs/settings.md is
generated from them (`chattrain settings-doc`, render_settings_doc below).
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

log = logging.getLogger("chattrain")

# Keys the masking vault only where no key is needed: masking off, or insecure-dev mode.
DEV_ONLY_SECRET_KEY = b"dev-only-insecure-secret"

# Loopback: a fresh install answers only on this machine. Listening publicly is a choice
# made on purpose (CHATTRAIN_HOST=0.0.0.0), usually behind a reverse proxy.
DEFAULT_HOST = "127.0.0.1"


class Settings(BaseSettings):
    """Every setting, with its documentation: `chattrain settings-doc` writes
    docs/settings.md from the descriptions here (a test fails when that file is stale)."""

    model_config = SettingsConfigDict(env_prefix="CHATTRAIN_", frozen=True, extra="ignore")

    # Storage
    data_dir: Path = Field(
        Path("data"),
        description="Folder for the SQLite files and doorbell sockets (with the data on PostgreSQL and the queue on "
        "Redis it holds only this process's own files: give each process its own).",
    )
    database_url: str = Field(
        "",
        repr=False,  # it may hold a password
        description="SQLAlchemy URL of the chat database; empty: SQLite `chattrain.db` in the data folder. "
        "`postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE` puts it on PostgreSQL (docs/postgresql.md).",
    )
    queue_path: Path | None = Field(None, description="Huey's SQLite queue file; empty: `queue.db` in the data folder.")
    queue_url: str = Field(
        "",
        repr=False,  # it may hold a password
        description="`redis://[:password@]host:port/db` (or `rediss://`) puts the Huey queue on Redis: workers wait "
        "on it with a blocking BRPOP, and the web processes learn of new events by Redis pub/sub unless the data is "
        "on PostgreSQL (LISTEN/NOTIFY). Empty: the SQLite queue file and doorbells, on one host. Start-up fails if "
        "Redis cannot be reached.",
    )
    redis_key_prefix: str = Field(
        "chattrain",
        pattern=r"^[A-Za-z0-9_]{1,64}$",
        description="Names ChatTrain's Redis keys and channels (the queue is `huey.redis.<prefix>`, the wake-ups "
        "`<prefix>.events`) and its PostgreSQL notification channel (`<prefix>_events`): deployments sharing one "
        "Redis need distinct prefixes. Letters, digits and `_`.",
    )
    scenarios_dir: Path = Field(Path("scenarios"), description="Where scenario folders are loaded from at start-up.")

    # Web
    host: str = Field(
        DEFAULT_HOST,
        description="Where Hypercorn listens (web/hypercorn_config.py; the port is `PORT`, default 8000): loopback "
        "answers this machine only, `0.0.0.0` (or `::`) every interface.",
    )
    # Empty by default: a listed origin's pages read and write as the signed-in user, and
    # whatever is served on a local dev port is not necessarily the frontend.
    cors_allowed_origins: tuple[str, ...] = Field(
        (),
        description='JSON list of other origins (a separate frontend, e.g. `["http://localhost:5173"]`) allowed to '
        "call the API with credentials and to open the chat socket with the session cookie; empty: none, only the "
        "server's own pages (`*` is refused).",
    )
    public_base_url: str = Field(
        "",
        description="Base for `websocket_url`, e.g. `https://chattrain.example.com`; set it behind a proxy. Empty: "
        "built from the request (see allowed hosts).",
    )
    # A Host header is the client's to choose: echoing any would send a client and its
    # token wherever it says.
    allowed_hosts: tuple[str, ...] = Field(
        ("localhost", "127.0.0.1", "::1"),
        description="JSON list of host names (any port) whose `Host` header may build `websocket_url` when "
        "`CHATTRAIN_PUBLIC_BASE_URL` is empty (other hosts get a relative `/chat/{id}`), and that insecure-dev mode "
        "trusts without a token (with `CHATTRAIN_PUBLIC_BASE_URL`'s host).",
    )
    max_message_chars: int = Field(4000, description="Longest trainee message.")
    max_frame_bytes: int = Field(65536, description="Largest WebSocket frame and HTTP body handled.")
    ws_ping_interval_seconds: float = Field(20.0, description="WebSocket keep-alive pings.")
    ws_compression: bool = Field(
        False,
        description="Accept permessage-deflate (costs memory per socket: docs/performance.md, Design measurements).",
    )
    event_poll_interval_ms: int = Field(
        1000, ge=10, description="The web tailer's fallback poll, when no wake-up comes."
    )
    wal_checkpoint_interval_ms: int = Field(
        200,
        ge=10,
        description="How often each web and worker process looks at and checkpoints the SQLite write-ahead logs "
        "(database and queue) in the background, instead of inside a commit; while no log grows it looks less "
        "often, down to every 2 s.",
    )
    wal_checkpoint_min_frames: int = Field(
        1000,
        ge=1,
        description="A log is checkpointed once it holds this many pages not yet copied (SQLite's own threshold); "
        "checkpointing earlier makes the next commit restart the log, with a sync, on the trainee's wait. At ten "
        "times this, a RESTART checkpoint waits for the writers of the moment and bounds the log (about 40 MB).",
    )

    # Worker
    worker_poll_interval_ms: int = Field(
        1000, ge=10, description="The worker's fallback poll of the queue, when no wake-up comes (a receive timeout)."
    )
    reply_claim_seconds: float = Field(
        10.0,
        # The name it had before claims had one name; still read, so no deployment breaks.
        validation_alias=AliasChoices(
            "CHATTRAIN_REPLY_CLAIM_SECONDS", "CHATTRAIN_REPLY_LEASE_SECONDS", "reply_claim_seconds"
        ),
        description="How long a worker's claim on a reply job lasts without renewal (formerly "
        "`CHATTRAIN_REPLY_LEASE_SECONDS`, which is still read).",
    )
    reply_max_attempts: int = Field(4, description="Attempts per reply before the trainee gets an error.")
    reply_retry_base_delay_seconds: float = Field(1.0, description="First retry delay (doubling each attempt).")
    reply_expiry_seconds: float = Field(300.0, description="A reply job older than this is dropped (`reply_expired`).")
    sweep_interval_seconds: float = Field(
        5.0,
        description="Worker heartbeat (which also renews its claims on replies), recovery sweep and overdue-session "
        "check; keep it below `CHATTRAIN_REPLY_CLAIM_SECONDS`.",
    )
    stream_batch_ms: int = Field(
        100,
        description="A streamed reply's text is written as a delta at most this often; a reply generated faster "
        "goes out whole, without `typing`.",
    )

    # LLM
    llm_provider: Literal["mock", "openai"] = Field("mock", description="`mock` or `openai`.")
    llm_base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible API root.")
    llm_api_key: str = Field(
        "", repr=False, description="Sent as `Authorization: Bearer …` (or in `CHATTRAIN_LLM_AUTH_HEADER`)."
    )
    llm_auth_header: str = Field(
        "Authorization",
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="Header carrying the API key: `Authorization` sends `Bearer <key>`, any other name (Azure's "
        "`api-key`) the key as it is.",
    )
    llm_model: str = Field(
        "gpt-4o-mini",
        description="Default model (a scenario's `llm_config.model` wins); it must exist on the server: a model the "
        "server lacks fails replies with `llm_model_not_found` (Ollama: pull it first).",
    )
    llm_parameters: Literal["auto", "classic", "reasoning"] = Field(
        "auto",
        description="Sampling parameters sent: `classic` (`temperature`, `max_tokens`), `reasoning` "
        "(`max_completion_tokens`, `reasoning_effort`, no temperature: OpenAI's o-series and gpt-5 family) or "
        "`auto`, reasoning for model names starting `o<digit>` or `gpt-5` (after any `provider/` prefix) and "
        "classic otherwise (docs/llm.md).",
    )
    llm_reasoning_allowance_tokens: int = Field(
        2000,
        ge=0,
        description="Reasoning shape: added to a call's token limit, because `max_completion_tokens` also counts "
        "the model's hidden reasoning (too little and the reply comes back empty).",
    )
    llm_reasoning_effort: Literal["", "none", "minimal", "low", "medium", "high"] = Field(
        "low", description="Reasoning shape: `reasoning_effort` sent (empty: not sent, the model's default)."
    )
    llm_request_timeout_seconds: float = Field(30.0, description="One request.")
    llm_total_timeout_seconds: float = Field(90.0, description="One model call, its own retries included.")
    llm_max_retries: int = Field(
        3,
        description="Provider-level retries on 429/5xx/timeouts of a grading call (a reply's attempts are "
        "`CHATTRAIN_REPLY_MAX_ATTEMPTS`).",
    )
    llm_max_concurrent_requests: int = Field(
        500,
        ge=1,
        description="Model calls one worker process makes at once; more replies wait for a slot (the queue wait in "
        "/api/health). Keep at or below the Procfile's `--workers`.",
    )
    llm_context_tokens: int = Field(6000, description="Prompt budget; older turns are trimmed.")
    llm_history_messages: int = Field(60, description="Most recent messages read as a reply's context.")
    llm_daily_token_budget_per_user: int = Field(0, ge=0, description="Tokens per user per UTC day; 0: no budget.")
    llm_grading: Literal["off", "on"] = Field(
        "off", description="`on`: reports are also graded by the LLM (openai provider only)."
    )
    llm_judge: Literal["off", "on"] = Field(
        "off",
        description="`on`: each trainee reply is also judged by the LLM (openai provider only), asked while the "
        "customer's reply streams; the offline judge's verdict stands when the call fails or runs past "
        "`CHATTRAIN_LLM_JUDGE_TIMEOUT_SECONDS` (docs/training.md).",
    )
    llm_judge_timeout_seconds: float = Field(
        8.0, gt=0, description="Budget for one reply's LLM judging, from when the reply job starts."
    )
    llm_judge_max_tokens: int = Field(200, ge=20, description="Most tokens the LLM judge may answer with.")
    mock_llm_first_chunk_ms: int = Field(0, description="Mock provider: delay before the first chunk.")
    mock_llm_chunks_per_second: float = Field(
        0.0, description="Mock provider: streaming pace (0: the whole reply at once)."
    )
    mock_llm_chunk_chars: int = Field(12, description="Mock provider: chunk size.")

    # Masking. The key keys the vault's digests of masked values: with a key anyone can
    # read, a digest of a short value (an SSN) is brute-forced in minutes, so with
    # masking on there is no default outside insecure-dev mode (see masking_key).
    masking: Literal["on", "off"] = Field("on", description="`on` or `off`.")
    secret_key: str = Field(
        "",
        repr=False,
        description="Keys the masking vault's digests: a long random value, the same for every web and worker "
        "process. With masking on, neither process starts without it (or a key file) except in insecure-dev mode, "
        "which warns and uses a well-known development key.",
    )
    secret_key_file: str = Field(
        "",
        description="A file holding the key instead (`CHATTRAIN_SECRET_KEY` wins); `make run` generates "
        "`data/secret-key` (mode 0600) on first start with `chattrain secret-key ensure`.",
    )

    # Logging
    log_level: str = Field(
        "INFO",
        description="`DEBUG` adds a line per trainee message and per reply (ChatTrain's own loggers; libraries "
        "stay at `INFO`).",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object per line (time, level, logger, message, and `request_id` and "
        "`session_id` where known) from the web process and the worker alike, for a log collector; `text`: lines "
        "for people (docs/monitoring.md).",
    )

    # Monitoring
    metrics_token: str = Field(
        "",
        repr=False,
        description="Bearer token a Prometheus scraper sends to `GET /metrics` (at least 16 characters); it opens "
        "the metrics and nothing else. Empty: `/metrics` answers 404 (docs/monitoring.md).",
    )

    # Auth and limits. A limit of 0 turns that limit off.
    auth_mode: Literal["required", "insecure-dev"] = Field(
        "required", description="`insecure-dev` trusts requests without a token; loopback only."
    )
    ws_ticket_ttl_seconds: int = Field(60, ge=1, le=600, description="Lifetime of a WebSocket ticket.")
    sign_in_link_ttl_seconds: int = Field(
        604800,
        ge=10,
        le=2592000,
        description="Lifetime of a sign-in link's code (the People view, `POST /api/people/...`, `chattrain users "
        "sign-in-link`): 7 days, at most 30; single use either way (docs/security.md says why).",
    )
    browser_session_ttl_seconds: int = Field(
        1209600,
        ge=60,
        description="Lifetime of the web app's session after signing in by link: 14 days from the sign-in, not "
        "extended by use (docs/security.md says why).",
    )
    messages_per_window: int = Field(30, ge=0, description="Trainee messages per user per message window.")
    message_window_seconds: int = Field(60, ge=1, description="The message window.")
    sessions_per_window: int = Field(10, ge=0, description="Session creations per user per session window.")
    session_window_seconds: int = Field(3600, ge=1, description="The session window.")
    ws_tickets_per_window: int = Field(30, ge=0, description="WebSocket tickets per user per ticket window.")
    ws_ticket_window_seconds: int = Field(60, ge=1, description="The ticket window.")
    max_active_sessions_per_user: int = Field(5, ge=0, description="Open sessions per user.")
    sign_in_failures_per_window: int = Field(
        10,
        ge=0,
        description="Wrong sign-in codes per client address (an IPv6 client's /64) per sign-in window, counted by "
        "each web process on its own; over it, `POST /api/sign-in` answers 429 with `Retry-After` (docs/security.md).",
    )
    sign_in_failure_window_seconds: int = Field(60, ge=1, description="The sign-in window.")

    # OpenID Connect sign-in (web/blueprints/oidc.py, docs/security.md). Off while the issuer is empty.
    oidc_issuer_url: str = Field(
        "",
        description="The OpenID Connect provider's issuer, e.g. `https://login.example.com/realms/staff`; its "
        "`/.well-known/openid-configuration` names the endpoints and keys. Empty: no OIDC sign-in (its routes answer "
        "404). Needs `CHATTRAIN_PUBLIC_BASE_URL` (the redirect URI is `<base>/api/oidc/callback`) and a client id; "
        "https unless on a loopback address.",
    )
    oidc_provider_name: str = Field(
        "your organisation", max_length=60, description="Shown on the sign-in page as `Sign in with <name>`."
    )
    oidc_client_id: str = Field("", description="The client (application) id registered with the provider.")
    oidc_client_secret: str = Field(
        "",
        repr=False,
        description="The client's secret, sent to the token endpoint with HTTP Basic authentication; empty (and no "
        "file): a public client, which PKCE alone protects.",
    )
    oidc_client_secret_file: str = Field("", description="A file holding the client secret instead (the setting wins).")
    oidc_scopes: str = Field(
        "openid email profile", description="Scopes asked for, space-separated; must include `openid`."
    )
    oidc_user_id_claim: str = Field(
        "email",
        description="The ID token claim whose value is the ChatTrain user id (e.g. `email`, `preferred_username`, "
        "`sub`); it must be a valid user id. With `email`, an `email_verified` of false is refused.",
    )
    oidc_role_claim: str = Field(
        "groups", description="The ID token claim (a string or a list) that can make a trainer."
    )
    oidc_trainer_values: tuple[str, ...] = Field(
        (),
        description='JSON list of values of the role claim that make a trainer, e.g. `["chattrain-trainers"]`; '
        "everyone else is a trainee, and the role is set again at each sign-in. Empty: the provider decides no role "
        "(new people are trainees; existing ones keep theirs).",
    )
    oidc_create_users: bool = Field(
        True,
        description="Create a person unknown to ChatTrain at their first sign-in (as the role above says); `false`: "
        "only people already created (`chattrain users create`) may sign in.",
    )

    @field_validator("cors_allowed_origins")
    @classmethod
    def _no_wildcard_origin(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        # The CORS layer always allows credentials (the Authorization header), and a
        # wildcard with credentials would let any web page call the API as its visitor.
        if any(origin.strip() == "*" for origin in origins):
            raise ValueError("'*' is not allowed: list the frontend's origins explicitly (credentials are allowed)")
        return origins

    @field_validator("llm_base_url", "public_base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        # Compared with the Host header's name, lower-cased and without brackets or port.
        return tuple(host.strip().strip("[]").lower() for host in hosts if host.strip())

    @field_validator("metrics_token")
    @classmethod
    def _long_enough_metrics_token(cls, token: str) -> str:
        # A short token is guessed by whoever can reach /metrics (it is checked in
        # constant time, but not rate limited).
        if token and len(token.strip()) < 16:
            raise ValueError(
                "use at least 16 characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return token.strip()

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
    def queue_file(self) -> Path | None:
        """The SQLite queue file, or None when the queue is on Redis."""
        return None if self.queue_url else self.resolved_queue_path

    @cached_property
    def on_one_host(self) -> bool:
        """True when everything lives in the data folder (SQLite data and queue), so
        doorbells and pids mean something; False once the queue or the data is remote."""
        return not self.queue_url and self.resolved_database_url.startswith("sqlite")

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


# docs/settings.md's sections, each starting at its first field (in the class's order).
SECTIONS = {
    "data_dir": "Storage",
    "host": "Web",
    "worker_poll_interval_ms": "Worker",
    "llm_provider": "LLM",
    "masking": "Masking",
    "log_level": "Logging",
    "metrics_token": "Monitoring",
    "auth_mode": "Auth and limits (0 turns a limit off)",
    "oidc_issuer_url": "OpenID Connect sign-in (off unless an issuer is set)",
}

SETTINGS_DOC_INTRO = """# Settings

Generated from `shared/settings.py` by `chattrain settings-doc > docs/settings.md`; edit
the descriptions there, not this file (a test fails when the two differ).

Every setting is an environment variable prefixed `CHATTRAIN_`, read once at start-up by
the web process, the worker and the `chattrain` command alike. Names carry their unit.
Lists are JSON (`["https://a.example","https://b.example"]`). A value that is wrong (not a
number, not a URL, a key file that cannot be read) ends the process at start with one
line on stderr naming the variable.
"""


def render_settings_doc() -> str:
    """docs/settings.md: one table per section, every field with its default, its range
    and its description."""
    lines = [SETTINGS_DOC_INTRO.rstrip("\n")]
    for name, field in Settings.model_fields.items():
        if name in SECTIONS:
            lines += ["", f"## {SECTIONS[name]}", "", "| variable | default | meaning |", "|---|---|---|"]
        meaning = field.description or ""
        bounds = [
            f"{word} {_shown(getattr(rule, attr))}"
            for rule in field.metadata
            for attr, word in (("ge", "at least"), ("le", "at most"))
            if hasattr(rule, attr)
        ]
        if bounds:
            meaning += f" ({', '.join(bounds)})"
        lines.append(f"| `CHATTRAIN_{name.upper()}` | {_default(field.default)} | {meaning} |")
    return "\n".join(lines) + "\n"


def _default(value: object) -> str:
    if value in ("", None):
        return "(empty)"
    if isinstance(value, tuple):
        return "`[" + ",".join(f'"{item}"' for item in value) + "]`"
    return f"`{_shown(value)}`"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
    """Read settings from the environment, make sure the data folder exists and that the
    database can be reached. A setting that is wrong (a value of the wrong kind, a folder
    that cannot be made, a database that cannot be reached) ends the process with one line
    on stderr naming it, no traceback, whichever entry point called this."""
    from shared.db.engine import DatabaseUnavailable, check_database

    try:
        settings = Settings()
    except ValidationError as error:
        raise SystemExit(f"chattrain: {describe_invalid_settings(error)}") from None
    except SettingsError as error:
        # A list or another structured value that is not JSON.
        name = re.search(r'field "(\w+)"', str(error))
        setting = f"CHATTRAIN_{name.group(1).upper()}" if name else "a setting"
        raise SystemExit(f'chattrain: {setting}: not valid JSON (lists are JSON: ["a","b"])') from None
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(
            f"chattrain: CHATTRAIN_DATA_DIR: cannot create {settings.data_dir} ({error.strerror})"
        ) from None
    try:
        check_database(settings.resolved_database_url)
    except DatabaseUnavailable as error:
        raise SystemExit(f"chattrain: {error}") from None
    return settings


def describe_invalid_settings(error: ValidationError) -> str:
    """Each invalid setting by its variable's name and what is wrong with it, on one line.
    The value itself is left out: it may be a secret."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        name = f"CHATTRAIN_{field.upper()}" if field in Settings.model_fields else field
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "; ".join(problems)
