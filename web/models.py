"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictBool, StrictStr, WithJsonSchema, field_validator

from shared.db.schema import MAX_SQLITE_INTEGER

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY = {"type": "string", "format": "date"}


def _or_empty(schema: dict[str, Any]) -> WithJsonSchema:
    """The query parameter's schema, plus the empty value, which counts as absent (a
    form's empty field; the models' _empty_is_absent)."""
    return WithJsonSchema({"anyOf": [schema, {"type": "string", "maxLength": 0}]})


class ErrorBody(BaseModel):
    """Every error the HTTP API answers (web/errors.py)."""

    code: str = Field(description="Machine-readable, e.g. session_not_found, rate_limited.")
    detail: str = Field(description="For people.")
    field: str | None = Field(default=None, description="The request field at fault, when one is.")
    retry_after_seconds: int | None = Field(default=None, description="With rate_limited: when to try again.")
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="With invalid_csv and the people endpoints' refusals: each problem, as "
        "{line, detail, field, user_id} (line only for a CSV file).",
    )


class DocumentInfo(BaseModel):
    filename: str
    title: str
    url: str


class PersonaInfo(BaseModel):
    name: str
    mood: str
    role: str | None = None
    company: str | None = None


class Scenario(BaseModel):
    id: int
    slug: str
    title: str
    description: str
    duration_minutes: int
    persona: PersonaInfo | None = None
    objectives: list[str] = []
    documents: list[DocumentInfo]


class SessionData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_id: Annotated[int, Field(ge=1, le=MAX_SQLITE_INTEGER)] | StrictStr = Field(
        description="The scenario's integer id or its slug."
    )
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Optional, for compatibility: the session belongs to the token's user, and a different "
        "user_id is refused with 403 user_mismatch.",
    )

    @field_validator("scenario_id", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # JSON Schema's integer includes 3.0 (accepted as 3) but not true, which pydantic
        # would otherwise read as 1.
        if isinstance(value, bool):
            raise ValueError("must be a scenario's integer id or its slug")
        return value


class Message(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    timestamp: str
    reply_to: int | None = None
    metadata: dict[str, Any] = {}


class Session(BaseModel):
    id: int
    session_id: int
    scenario_id: int
    scenario_slug: str
    user_id: str
    status: str
    created_at: str
    completed_at: str | None = None
    websocket_url: str


class SessionWithTranscript(Session):
    messages: list[Message]


class DatabaseHealth(BaseModel):
    reachable: bool
    backend: Literal["sqlite", "postgresql"] | None = Field(default=None, description="Where the data is.")
    latency_ms: float | None = Field(default=None, description="One read's round trip; null when unreachable.")


class WakeupHealth(BaseModel):
    backend: Literal["doorbell", "redis", "postgresql"] = Field(
        description="How this web process learns of new events: a doorbell on one host, Redis pub/sub or "
        "PostgreSQL LISTEN/NOTIFY across hosts (the slow poll covers a lost one)."
    )
    listening: bool = Field(description="Connected and listening now; false while reconnecting (the poll covers).")


class QueueWait(BaseModel):
    replies: int = Field(description="Replies whose model call started in the last minute.")
    p50_ms: float | None = Field(description="Median time from the trainee's message to the model call.")
    p99_ms: float | None


class QueueHealth(BaseModel):
    backend: Literal["sqlite", "redis"] | None = Field(default=None, description="Where the Huey queue is.")
    reachable: bool | None = Field(default=None, description="The queue answered.")
    latency_ms: float | None = Field(default=None, description="One round trip to the queue; null when unreachable.")
    depth: int | None = Field(description="Jobs waiting in the Huey queue.")
    open_replies: int | None = Field(description="Trainee messages whose reply is queued or being written.")
    oldest_queued_seconds: float | None = Field(
        default=None, description="How long the reply waiting longest for a worker has waited; null when none waits."
    )
    wait: QueueWait | None = Field(
        default=None, description="Queue wait over the last minute: from the stored message to the model call."
    )


class WorkerHealth(BaseModel):
    last_seen_at: str | None
    seconds_since_seen: float | None
    alive: bool
    live_workers: int | None = Field(
        default=None, description="Worker processes that sent a heartbeat lately, on any host."
    )
    live_hosts: int | None = Field(default=None, description="The hosts those workers run on.")
    model_calls: int | None = Field(default=None, description="Calls to the model in progress, over live workers.")
    model_calls_waiting: int | None = Field(
        default=None,
        description="Replies waiting for a model slot (CHATTRAIN_LLM_MAX_CONCURRENT_REQUESTS), over live workers.",
    )


class LLMHealth(BaseModel):
    provider: str = Field(description="The configured provider: mock or openai.")
    last_call_ok: bool | None = Field(
        default=None, description="Whether the provider's most recent call succeeded; null before its first call."
    )
    last_success_at: str | None = None
    last_failure_at: str | None = None
    last_error_code: str | None = Field(
        default=None, description="The code of the most recent failure, e.g. llm_timeout."
    )


class Liveness(BaseModel):
    """What /api/health tells a caller without a token."""

    status: Literal["ok"] = Field(description="The web process answers; the verdict and the details need a token.")
    timestamp: str


class Health(BaseModel):
    """What /api/health tells a signed-in caller."""

    status: Literal["healthy", "degraded"]
    timestamp: str
    version: str
    database: DatabaseHealth
    queue: QueueHealth
    worker: WorkerHealth
    wakeups: WakeupHealth
    llm: LLMHealth
    scenarios_loaded: int
    scenario_errors: list[str]


class HealthAnswer(RootModel[Health | Liveness]):
    """The details for a signed-in caller, liveness for anyone else."""


class Me(BaseModel):
    id: str
    role: Literal["trainee", "trainer"]
    display_name: str | None = None
    csrf_token: str | None = Field(
        default=None, description="Signed in by the web app's cookie: send it as X-CSRF-Token with every write."
    )


class WsTicket(BaseModel):
    ticket: str = Field(description="Pass as ?ticket= when opening the chat socket; works once.")
    expires_at: str
    expires_in_seconds: int


# --- Training records: reports, transcripts, session lists, scenario statistics -------


class Evidence(BaseModel):
    message_id: int
    quote: str = Field(description="The trainee's own words.")


class ReportCriterion(BaseModel):
    name: str
    weight: float
    score: int | None = Field(description="null when no line of the session judged this criterion.")
    evidence: list[Evidence] = Field(description="The trainee's lines that earned the score.")


class RequiredKeywords(BaseModel):
    met: list[str]
    missed: list[str]


class TurnScore(BaseModel):
    message_id: int
    score: int
    matched: list[str]
    missed: list[str]


class ReportPoint(BaseModel):
    text: str
    criterion: str | None = Field(default=None, description="The rubric criterion it comes from, if any.")
    evidence: list[Evidence]


class ReportScenario(BaseModel):
    slug: str
    title: str


class LLMCriterionGrade(BaseModel):
    name: str
    weight: float
    score: int = Field(ge=0, le=100)
    comment: str


class LLMGrading(BaseModel):
    overall_score: int = Field(ge=0, le=100, description="The criteria's scores weighted by the rubric.")
    criteria: list[LLMCriterionGrade]
    summary: str
    model: str


class Report(BaseModel):
    scenario: ReportScenario
    overall_score: int = Field(ge=0, le=100)
    criteria: list[ReportCriterion]
    required_keywords: RequiredKeywords
    per_turn: list[TurnScore]
    strengths: list[ReportPoint]
    improvements: list[ReportPoint]
    exchanges: int
    duration_seconds: int
    ended_by: Literal["script_complete", "time_up", "trainee_ended"]
    llm_grading: LLMGrading | None = Field(
        default=None,
        description="The LLM's grading against the rubric (CHATTRAIN_LLM_GRADING=on); null when off or when its "
        "answer was unusable. The scores above are always the deterministic ones.",
    )


class CriterionScore(BaseModel):
    name: str
    score: int = Field(ge=0, le=100)


class CoachingLine(BaseModel):
    criterion: str = Field(description="The rubric criterion the sentence comes from.")
    text: str


class ReplyFeedback(BaseModel):
    score: int = Field(ge=0, le=100)
    criteria: list[CriterionScore] | dict[str, int] = Field(
        default=[], description="The criteria judged on this line (a name-to-score map in feedback stored before 1.1)."
    )
    worked: list[CoachingLine] = Field(default=[], description="What the reply did well.")
    improve: list[CoachingLine] = Field(default=[], description="The one or two things to do better.")
    suggestions: list[str] = Field(description="The `improve` sentences alone.")
    matched: list[str] = Field(description="The line's points the reply made.")
    missed: list[str] = Field(description="The line's points the reply missed.")


class SessionFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt filter is an error, not "everything"

    user_id: str | None = None
    scenario_id: str | None = Field(default=None, description="The scenario's integer id or its slug.")
    status: Annotated[
        Literal["active", "completed"] | None, _or_empty({"enum": ["active", "completed"], "type": "string"})
    ] = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000_000)  # SQLite integers are 64-bit: bound it

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value


class SessionSummary(Session):
    ended_by: str | None = None
    overall_score: int | None = Field(default=None, description="The report's overall score, once written.")


class TranscriptFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "markdown"] = "json"


class TranscriptMessage(Message):
    feedback: ReplyFeedback | None = Field(default=None, description="Per-reply feedback on a trainee message.")


class Transcript(Session):
    ended_by: str | None = None
    scenario_title: str
    messages: list[TranscriptMessage]
    report: Report | None = None


class MissedKeyword(BaseModel):
    keyword: str
    count: int = Field(description="Sessions that missed it.")


class ScenarioStats(BaseModel):
    scenario_id: int
    scenario_slug: str
    sessions: int
    completed: int
    completion_rate: float | None
    mean_score: float | None
    median_score: float | None
    most_missed_keywords: list[MissedKeyword]


# --- LLM usage ----------------------------------------------------------------------------


class UsageFilter(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    user_id: str | None = Field(
        default=None, description="A trainer's choice of user (default: everyone); a trainee always gets their own."
    )
    from_: Annotated[date | None, _or_empty(_DAY)] = Field(
        default=None,
        alias="from",
        description="First UTC day, YYYY-MM-DD (default: 29 days before `to`). Must not be after `to`, and "
        "`from` to `to` is at most 366 days: otherwise 400 invalid_request naming `from`.",
    )
    to: Annotated[date | None, _or_empty(_DAY)] = Field(
        default=None, description="Last UTC day, inclusive, YYYY-MM-DD (default: today)."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_day(cls, value: Any) -> Any:
        # pydantic also reads a number ("0") as a Unix time: only YYYY-MM-DD is a day here.
        if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
            raise ValueError("must be a day written YYYY-MM-DD")
        return value


class LLMUsageTotals(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int = Field(description="prompt_tokens + completion_tokens: what the daily budget counts.")
    replies: int = Field(description="Customer replies written (LLM-graded reports add tokens, not replies).")


class LLMUsageDay(LLMUsageTotals):
    user_id: str
    day: str = Field(description="UTC date, YYYY-MM-DD.")


class LLMUsage(BaseModel):
    user_id: str | None = Field(description="The user shown, or null for everyone.")
    first_day: str
    last_day: str
    days: list[LLMUsageDay] = Field(description="One row per user per day with any usage, oldest first.")
    totals: LLMUsageTotals
    daily_token_budget_per_user: int | None = Field(
        description="CHATTRAIN_LLM_DAILY_TOKEN_BUDGET_PER_USER, or null when there is no budget."
    )


# --- People (trainers manage users) -------------------------------------------------------


class Person(BaseModel):
    id: str
    role: Literal["trainee", "trainer"]
    display_name: str | None = None
    disabled: bool
    created_at: str
    last_sign_in_at: str | None = Field(
        default=None, description="When they last signed in to the web app by link; null if never (or not recorded)."
    )
    erased_at: str | None = Field(
        default=None,
        description="When their data was erased (`chattrain users erase`): the account stays disabled for good.",
    )


class People(BaseModel):
    people: list[Person] = Field(description="Everyone, oldest first.")


class PersonData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$",
        description="The user id: letters, digits or . _ @ + -, starting with a letter or digit. "
        "Reuse an existing sessions.user_id to adopt its sessions.",
    )
    role: Literal["trainee", "trainer"]
    display_name: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[^\x00-\x1F\x7F-\x9F]*$",
        description="Shown instead of the id; no control characters (a line break would garble lists).",
    )


class PersonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: StrictBool = Field(
        description="true ends their token, sign-in links, browser sessions and open sockets at once; false lets "
        "them back in (with a new sign-in link)."
    )


class SignInLink(BaseModel):
    user_id: str
    url: str = Field(description="Hand this to the person: it signs them in to the web app once.")
    expires_at: str
    expires_in_seconds: int


class NewPerson(BaseModel):
    person: Person
    sign_in_link: SignInLink


class SignInLinksData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=500, description="Up to 500 enabled users; each one's earlier unused links end."
    )


class SignInLinks(BaseModel):
    links: list[SignInLink]


class ImportData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csv: str = Field(
        min_length=1,
        description="The CSV file's text: a header row (user_id,display_name,role; display_name optional), then "
        "one person per row, at most 500. The body as a whole is capped at CHATTRAIN_MAX_FRAME_BYTES.",
    )


class Imported(BaseModel):
    created: list[NewPerson] = Field(description="Everyone added, in the file's order, each with a sign-in link.")
