"""Time helpers: every timestamp ChatTrain stores or sends is ISO 8601 in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_now_iso() -> str:
    """The current time as ISO 8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000+00:00."""
    return utc_now().isoformat(timespec="milliseconds")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
