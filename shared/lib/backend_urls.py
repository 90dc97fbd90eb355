"""URLs of the servers ChatTrain talks to (PostgreSQL, Redis): shown without their
password, and checked at start-up so a wrong one fails with one clear line."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class BackendUnavailable(RuntimeError):
    """A configured server cannot be used; the message is one line naming the setting and
    the URL without its password."""


def redact_url(url: str) -> str:
    """`url` with any password replaced by `***` (for logs, errors and /api/health)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def describe_error(error: BaseException) -> str:
    """An exception as a short phrase, with no URL in it (drivers sometimes echo theirs)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:200]
