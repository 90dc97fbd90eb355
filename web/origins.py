"""Which hosts and page origins the server trusts.

A Host header is the client's to choose, and a browser sends whatever host name the page
used, so a name an attacker controls can be pointed at this machine (DNS rebinding): its
pages are then same-origin with themselves, and only the Host header gives them away.
An Origin header names the page a browser request or socket comes from. Both matter
wherever a request is trusted for what it carries by itself rather than for a credential
it presents: the session cookie on the chat socket (web/auth.py) and insecure-dev mode's
requests without a token. The allowed hosts also decide which Host may name
`websocket_url` (web/blueprints/sessions.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from shared.settings import Settings

# A Host header that is a host name or a bracketed IPv6 address, with an optional port,
# and nothing else (no user info, path or fragment to smuggle another host in).
_HOST_HEADER = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def host_is_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether a Host header names one of CHATTRAIN_ALLOWED_HOSTS (any port)."""
    match = _HOST_HEADER.fullmatch(host)
    return match is not None and match["name"].strip("[]").lower() in allowed_hosts


def trusted_hosts(settings: Settings) -> tuple[str, ...]:
    """CHATTRAIN_ALLOWED_HOSTS and the host of CHATTRAIN_PUBLIC_BASE_URL, if set."""
    public = urlsplit(settings.public_base_url).hostname if settings.public_base_url else None
    return (*settings.allowed_hosts, public) if public else settings.allowed_hosts


def origin_allowed(origin: str | None, scheme: str, host: str, settings: Settings) -> bool:
    """Whether a page's Origin may act here: the server's own origin (as the request
    reached it: `scheme` and `host`), CHATTRAIN_PUBLIC_BASE_URL's, or one of the CORS
    origins. No Origin, or "null" (a sandboxed frame, a file), is not allowed."""
    if not origin:
        return False
    own_scheme = "https" if scheme in ("https", "wss") else "http"
    allowed = {f"{own_scheme}://{host}", *settings.cors_allowed_origins}
    if settings.public_base_url:
        allowed.add(settings.public_base_url.rstrip("/"))
    return origin.rstrip("/") in allowed


def unvouched_refusal(connection, settings: Settings) -> str | None:  # noqa: ANN001
    """Why a request or socket that presents no credential (insecure-dev mode trusts
    those) may not be trusted, or None: its Host is not an allowed one, or it comes from
    another site's page. Scripts and tools send no Origin and are trusted as before."""
    if not host_is_allowed(connection.host, trusted_hosts(settings)):
        return "host not allowed"
    origin = connection.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, connection.scheme, connection.host, settings):
        return "origin not allowed"
    return None
