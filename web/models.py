"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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

    scenario_id: int | str = Field(description="The scenario's integer id or its slug.")
    user_id: str = Field(min_length=1, max_length=200)


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


class QueueHealth(BaseModel):
    depth: int | None = Field(description="Jobs waiting in the Huey queue.")
    open_replies: int | None = Field(description="Trainee messages whose reply is queued or being written.")


class WorkerHealth(BaseModel):
    last_seen_at: str | None
    seconds_since_seen: float | None
    alive: bool


class LLMHealth(BaseModel):
    provider: str


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    timestamp: str
    version: str
    database: DatabaseHealth
    queue: QueueHealth
    worker: WorkerHealth
    llm: LLMHealth
    scenarios_loaded: int
    scenario_errors: list[str]
