"""CORS for the browser frontend: origins come from settings; never a wildcard with
credentials."""

from __future__ import annotations

from quart import Quart, Response, request

from shared.settings import Settings

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, X-CSRF-Token"
PREFLIGHT_MAX_AGE_SECONDS = "600"


def install_cors(app: Quart, settings: Settings) -> None:
    allowed = set(settings.cors_allowed_origins)

    @app.before_request
    async def answer_preflight():  # noqa: ANN202
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return Response("", status=204)
        return None

    @app.after_request
    async def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
                response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_SECONDS
        return response
