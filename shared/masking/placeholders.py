"""The placeholder format `[TYPE_N]`, shared by the vault and by the masker's
idempotence guard (text that already holds placeholders must not be re-masked)."""

from __future__ import annotations

import re

TYPE_NAME_RE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
PLACEHOLDER_RE = re.compile(r"\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_([1-9]\d*)\]")


def format_placeholder(type_name: str, number: int) -> str:
    """Return the placeholder for the `number`-th distinct value of `type_name`."""
    return f"[{type_name}_{number}]"


def parse_placeholder(placeholder: str) -> tuple[str, int] | None:
    """Split `[TYPE_N]` into (TYPE, N); None when the string is not a placeholder."""
    match = PLACEHOLDER_RE.fullmatch(placeholder)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def placeholder_spans(text: str) -> list[tuple[int, int]]:
    """Spans of placeholders already present in `text`."""
    if "[" not in text:  # cheap exit: the common case has no placeholder at all
        return []
    return [match.span() for match in PLACEHOLDER_RE.finditer(text)]
