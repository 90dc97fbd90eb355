"""A deterministic, scenario-driven stand-in for a real LLM.

The mock customer follows the scenario's script: the reply to the trainee's k-th message is
`bot_messages[k]` (the opening line, `bot_messages[0]`, counts as the first customer turn).
When the trainee's message misses most of the keywords expected for the turn it answers,
the customer first complains about that, in character; once the script has run out, the
customer wraps up. The same request always gives the same reply, so tests and demos can
rely on it, and optional pacing imitates a streaming model. (A model that stalls for some
trainees is the benchmark's fake server's to play: bench/fake_llm.py.)
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence

from shared.llm.base import ChatTurn, ReplyRequest, ReplyStream, Usage
from shared.scenarios.model import Scenario
from shared.training.judge import judge_reply

MOCK_MODEL_NAME = "mock"
DEFAULT_MOOD = "not happy"
# Chat formats wrap each message in a few tokens of role markers.
TOKENS_PER_MESSAGE = 4
CHARS_PER_TOKEN = 4

# Reactions to a reply that missed what the customer was waiting for; picked by turn
# index so a long session does not repeat one line.
# The customer repeats their own question rather than naming the expected keywords,
# which are hidden from the trainee.
# The customer asks again when the trainee's reply scored below this (a mediocre reply or
# worse: vague, a list of keywords, rude or wrong).
REACTION_BELOW_SCORE = 50
_MISSED_POINT_REACTIONS = (
    "Hang on, I'm {mood} and that didn't really answer me. Again: {question}",
    "Sorry, but you skipped right past what I asked. {question} I'm {mood} here.",
    "That's not really what I needed. {question}",
    "You still haven't answered me, and honestly I'm {mood}. {question}",
)
_SENTENCE = re.compile(r"[^.!?]+[.!?]+")

_CLOSING_LINES = (
    "Okay, I think that covers everything. Thank you for your help today. Goodbye.",
    "Thanks again, I don't have anything else for now. Have a good day.",
    "I really have to go now. Thanks for sorting this out. Bye.",
)

# A word with the whitespace after it, or leading whitespace on its own.
_TEXT_PIECE = re.compile(r"\S+\s*|\s+")


class MockProvider:
    """Plays the scenario's scripted customer; see the module docstring for the rules."""

    name = "mock"

    def __init__(
        self,
        *,
        first_chunk_ms: int = 0,
        chunks_per_second: float = 0.0,
        chunk_chars: int = 12,
    ):
        if first_chunk_ms < 0:
            raise ValueError("first_chunk_ms must be >= 0")
        if chunks_per_second < 0:
            raise ValueError("chunks_per_second must be >= 0")
        if chunk_chars < 1:
            raise ValueError("chunk_chars must be >= 1")
        self.first_chunk_ms = first_chunk_ms
        self.chunks_per_second = chunks_per_second
        self.chunk_chars = chunk_chars

    def stream_reply(self, request: ReplyRequest) -> ReplyStream:
        """Compose the scripted reply and stream it in chunks, paced as configured."""
        text = scripted_reply(request.scenario, request.history, request.assistant_turns)
        usage = Usage(
            prompt_tokens=estimate_prompt_tokens(request.history),
            completion_tokens=estimate_tokens(text),
            model=MOCK_MODEL_NAME,
        )
        return ReplyStream(chunks=self._paced(split_into_chunks(text, self.chunk_chars)), usage=usage)

    def _paced(self, chunks: list[str]) -> Iterator[str]:
        for index, chunk in enumerate(chunks):
            if index == 0:
                if self.first_chunk_ms > 0:
                    time.sleep(self.first_chunk_ms / 1000)
            elif self.chunks_per_second > 0:
                time.sleep(1 / self.chunks_per_second)
            yield chunk


def scripted_reply(scenario: Scenario, history: Sequence[ChatTurn], assistant_turns: int | None = None) -> str:
    """The customer's next line for this history.

    The number of customer turns already in the history (opening line included) is the
    index of the next scripted message. A reaction comes first when the judge (the same
    judgement as the trainee's feedback) scores the trainee's last message below
    REACTION_BELOW_SCORE as a reply to the customer line it answers.
    """
    script = scenario.bot_messages
    next_index = (
        assistant_turns if assistant_turns is not None else sum(1 for turn in history if turn.role == "assistant")
    )
    trainee_text = next((turn.content for turn in reversed(history) if turn.role == "user"), "")

    parts: list[str] = []
    answered_index = next_index - 1
    if (
        0 <= answered_index < len(script)
        and judge_reply(scenario, answered_index, trainee_text).score < REACTION_BELOW_SCORE
    ):
        parts.append(_missed_point_reaction(scenario, next_index))
    if next_index < len(script):
        parts.append(script[next_index].content)
    else:
        parts.append(_CLOSING_LINES[(next_index - len(script)) % len(_CLOSING_LINES)])
    return " ".join(parts)


def _missed_point_reaction(scenario: Scenario, turn_index: int) -> str:
    """React to a reply that missed the point by asking the unanswered question again."""
    template = _MISSED_POINT_REACTIONS[turn_index % len(_MISSED_POINT_REACTIONS)]
    return template.format(mood=_mood(scenario), question=_unanswered_question(scenario, turn_index - 1))


def _unanswered_question(scenario: Scenario, answered_index: int) -> str:
    """The customer's last question in the line the trainee answered (or its last sentence)."""
    line = scenario.bot_messages[answered_index].content if 0 <= answered_index < len(scenario.bot_messages) else ""
    sentences = [s.strip() for s in _SENTENCE.findall(line)] or [line.strip()]
    questions = [s for s in sentences if s.endswith("?")]
    return (questions or sentences)[-1]


def _mood(scenario: Scenario) -> str:
    if scenario.persona is None:
        return DEFAULT_MOOD
    # Moods like "frustrated, but polite" read awkwardly after "I'm"; keep the first clause.
    return scenario.persona.mood.split(",")[0].strip() or DEFAULT_MOOD


def split_into_chunks(text: str, chunk_chars: int) -> list[str]:
    """Cut text into pieces of about `chunk_chars` characters, at word boundaries where
    possible; joining the pieces gives back `text` exactly."""
    chunks: list[str] = []
    current = ""
    for piece in _TEXT_PIECE.findall(text):
        if current and len(current) + len(piece) > chunk_chars:
            chunks.append(current)
            current = ""
        # A word far longer than a chunk (a URL, say) is cut so chunks stay near the size.
        while len(piece) > 2 * chunk_chars:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(piece[:chunk_chars])
            piece = piece[chunk_chars:]
        current += piece
    if current:
        chunks.append(current)
    return chunks


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens a model would count for `text` (about 4 characters each)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(history: Sequence[ChatTurn]) -> int:
    """Estimated prompt size: every message's text plus its framing."""
    return sum(estimate_tokens(turn.content) + TOKENS_PER_MESSAGE for turn in history)
