"""Which sampling parameters a model is sent: the request shape of its family.

Two shapes:
    classic    `temperature` and `max_tokens`. What every OpenAI-compatible server knows
               (Ollama, vLLM, llama.cpp, LM Studio, gateways) and what OpenAI's own chat
               models still accept.
    reasoning  `max_completion_tokens` (the reply's limit plus an allowance for the hidden
               reasoning, which that limit also counts), optionally `reasoning_effort`,
               and no `temperature`: OpenAI's reasoning models (o1, o3, o4-mini, gpt-5...)
               answer 400 to `max_tokens` and to any temperature but the default.

`CHATTRAIN_LLM_PARAMETERS` picks one for every model, or `auto` picks by the model's name
(`is_reasoning_model`). A server that still refuses a parameter by name teaches the
provider to leave it out for that model (`rejected_parameter`, `sampling_parameters`'s
`rejected`): names are only ever matched against the fixed set below, never quoted.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Shape = Literal["classic", "reasoning"]

# The model's own name is the part after a gateway's prefix ("openai/o3-mini",
# "azure/o4-mini"): OpenAI's o-series ("o1", "o3-mini", "o4-mini-2025-04-16") and the
# gpt-5 family ("gpt-5", "gpt-5-mini", "gpt-5.1"). Names are case-insensitive.
_REASONING_NAME = re.compile(r"^(?:o\d+(?:$|[-_.:])|gpt-5(?:$|[-_.:]))", re.IGNORECASE)

# Parameters a server may refuse that a reply can do without (or, for the two token
# limits, trade for the other).
ADAPTABLE = frozenset({"temperature", "max_tokens", "max_completion_tokens", "reasoning_effort"})
_UNSUPPORTED = re.compile(r"unsupported (?:parameter|value):\s*'([a-z_]{1,40})'", re.IGNORECASE)


def is_reasoning_model(model: str) -> bool:
    """True for a name of OpenAI's reasoning families, with or without a gateway prefix."""
    return bool(_REASONING_NAME.match(model.rsplit("/", 1)[-1].strip()))


def shape_for(model: str, setting: str) -> Shape:
    """The shape `setting` (`auto`, `classic` or `reasoning`) gives `model`."""
    if setting in ("classic", "reasoning"):
        return setting  # type: ignore[return-value]
    return "reasoning" if is_reasoning_model(model) else "classic"


def sampling_parameters(
    shape: Shape,
    *,
    temperature: float | None,
    max_tokens: int | None,
    reasoning_tokens: int,
    reasoning_effort: str,
    rejected: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The body's sampling fields for `shape`, less what the model has refused before.

    A model that refused `max_tokens` gets `max_completion_tokens` (only reasoning models
    refuse it), and one that refused `max_completion_tokens` gets `max_tokens`.
    """
    if shape == "classic" and "max_tokens" in rejected:
        shape = "reasoning"
    elif shape == "reasoning" and "max_completion_tokens" in rejected:
        shape = "classic"
    fields: dict[str, Any] = {}
    if shape == "classic":
        if temperature is not None:
            fields["temperature"] = temperature
        if max_tokens:
            fields["max_tokens"] = max_tokens
    else:
        if max_tokens:
            fields["max_completion_tokens"] = max_tokens + reasoning_tokens
        if reasoning_effort:
            fields["reasoning_effort"] = reasoning_effort
    return {name: value for name, value in fields.items() if name not in rejected}


def rejected_parameter(payload: Any) -> str | None:
    """The parameter a 400 answer says the model does not support, if it is one we can
    do without: OpenAI and Azure name it in `error.param` (code `unsupported_parameter`
    or `unsupported_value`); some gateways only in the message ("Unsupported parameter:
    'max_tokens' ...")."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None
    param = error.get("param")
    if isinstance(param, str) and param in ADAPTABLE:
        return param
    message = error.get("message")
    match = _UNSUPPORTED.search(message) if isinstance(message, str) else None
    if match and match.group(1).lower() in ADAPTABLE:
        return match.group(1).lower()
    return None


__all__ = ["ADAPTABLE", "Shape", "is_reasoning_model", "rejected_parameter", "sampling_parameters", "shape_for"]
