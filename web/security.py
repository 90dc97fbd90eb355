"""Security headers on every HTTP response.

The API serves JSON (and a scenario's Markdown documents), never pages, so its Content
Security Policy allows nothing at all. The two documentation pages, /docs and /redocs,
load their scripts and styles from this server (web/static/apidocs), and the web app at /
its own files (web/app_static), so neither policy names another origin. API responses carry personal data and are
never stored by browsers or shared caches."""

from __future__ import annotations

from quart import Quart, Response, request

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

DOC_PAGE_PATHS = ("/docs", "/redocs")
# The documentation pages load their scripts and styles from this server only
# (web/static/apidocs). Swagger UI and ReDoc set inline styles, show data: images and
# fonts, and ReDoc searches in a web worker it starts from a blob: URL.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# The web app (web/blueprints/pages.py): its own files only; no inline script or style,
# no other origin. 'self' in connect-src covers the same-origin chat socket (CSP Level 3).
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def install_security_headers(app: Quart) -> None:
    """Add the headers to every response (errors included)."""

    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path in DOC_PAGE_PATHS:
            response.headers["Content-Security-Policy"] = DOCS_CSP
        elif request.path == "/" or request.path.startswith("/app/"):
            response.headers["Content-Security-Policy"] = APP_CSP
        else:
            response.headers["Content-Security-Policy"] = API_CSP
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response
