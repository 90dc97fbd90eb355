"""The interface every LLM provider implements; the worker depends on nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

if TYPE_CHECKING:
    from shared.scenarios.model import Scenario


class ChatTurn(NamedTuple):
    """One message of the conversation as the LLM sees it (already masked). A named
    tuple: a reply's request holds up to CHATTRAIN_LLM_HISTORY_MESSAGES of them, built
    per reply, and a frozen dataclass costs more to build (docs/performance.md, Design
    measurements)."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class ReplyRequest:
    """Everything a provider needs to play the customer for one reply.

    `history` is oldest first and ends with the trainee's message being answered; long
    conversations are cut to their most recent messages. `assistant_turns` counts all the
    customer lines already sent, opening line included, so a scripted provider knows which
    turn comes next even when the history is cut (None: count them in `history`).
    """

    scenario: Scenario
    history: tuple[ChatTurn, ...]
    session_id: int
    reply_to: int
    assistant_turns: int | None = None


@dataclass
class Usage:
    """Token counts for one reply, as reported by the provider (or estimated)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""


class LLMError(Exception):
    """A provider failure. `retryable` failures are retried with backoff by the worker;
    the others reach the trainee at once as an error frame with `code`."""

    def __init__(self, code: str, message: str, *, retryable: bool, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds


@dataclass
class ReplyStream:
    """Iterate for text chunks (each chunk is new text only); `usage` is complete once
    the iteration has finished."""

    chunks: Iterator[str]
    usage: Usage = field(default_factory=Usage)

    def __iter__(self) -> Iterator[str]:
        return self.chunks


class LLMProvider(Protocol):
    """Plays the customer. Called from the worker's greenlets (or threads in tests), so
    implementations are synchronous and wait only through sockets and `time.sleep`,
    which gevent makes cooperative."""

    name: str

    def stream_reply(self, request: ReplyRequest) -> ReplyStream:
        """Start a reply; raise LLMError (possibly while iterating) on failure."""
        ...
