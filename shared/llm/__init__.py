"""LLM providers: the mock (default, deterministic, no network) and an OpenAI-compatible one."""

from __future__ import annotations

from shared.llm.base import ChatTurn, LLMError, LLMProvider, ReplyRequest, ReplyStream, Usage
from shared.settings import Settings

__all__ = ["ChatTurn", "LLMError", "LLMProvider", "ReplyRequest", "ReplyStream", "Usage", "create_provider"]


def create_provider(settings: Settings) -> LLMProvider:
    """The provider the settings name."""
    if settings.llm_provider == "openai":
        from shared.llm.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider.from_settings(settings)
    from shared.llm.mock import MockProvider

    return MockProvider(
        first_chunk_ms=settings.mock_llm_first_chunk_ms,
        chunks_per_second=settings.mock_llm_chunks_per_second,
        chunk_chars=settings.mock_llm_chunk_chars,
    )
