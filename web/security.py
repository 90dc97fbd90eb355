"""Security headers on every HTTP response.

The API serves JSON (and a scenario's Markdown documents), never pages, so its Content
Security Policy allows nothing at all. The two documentation pages, /docs and /redocs,
load their scripts and styles from a CDN and run a small inline script, so they get a
policy that allows exactly those origins. API responses carry personal data and are
never stored by browsers or shared caches."""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Quart, Response, request

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

DOC_PAGE_PATHS = ("/docs", "/redocs")
# The web app (web/blueprints/pages.py): its own files only; no inline script or style,
# no other origin. 'self' in connect-src covers the same-origin chat socket (CSP Level 3).
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# quart-schema's settings naming the CDN files the documentation pages load.
DOC_ASSET_SETTINGS = ("QUART_SCHEMA_SWAGGER_JS_URL", "QUART_SCHEMA_SWAGGER_CSS_URL", "QUART_SCHEMA_REDOC_JS_URL")


def docs_csp(app: Quart) -> str:
    """The policy of the documentation pages: their CDN origins, an inline script
    (Swagger UI's start-up call) and inline styles, fonts and a web worker (ReDoc)."""
    origins = sorted(
        {f"{parts.scheme}://{parts.netloc}" for parts in (urlsplit(app.config[key]) for key in DOC_ASSET_SETTINGS)}
    )
    cdn = " ".join(origins)
    return (
        f"default-src 'none'; script-src 'self' 'unsafe-inline' {cdn}; "
        f"style-src 'self' 'unsafe-inline' {cdn} https://fonts.googleapis.com; "
        "font-src 'self' data: https://fonts.gstatic.com; img-src 'self' data:; connect-src 'self'; "
        "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def install_security_headers(app: Quart) -> None:
    """Add the headers to every response (errors included). Call after QuartSchema."""
    doc_policy = docs_csp(app)

    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path in DOC_PAGE_PATHS:
            response.headers["Content-Security-Policy"] = doc_policy
        elif request.path == "/" or request.path.startswith("/app/"):
            response.headers["Content-Security-Policy"] = APP_CSP
        else:
            response.headers["Content-Security-Policy"] = API_CSP
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response
