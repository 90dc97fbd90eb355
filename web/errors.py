"""One error type for the HTTP API and one JSON shape for every error:
`{"code": "<machine-readable>", "detail": "<for people>", "field": "<when one is at fault>"}`.
No stack traces or file paths ever reach a response body."""

from __future__ import annotations

import logging

from quart import Quart, jsonify
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from shared.db.engine import DatabaseUnavailable
from shared.db.limits import LimitExceeded

log = logging.getLogger("chattrain.web")

# What a client is told to wait before trying again while the database is away.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The database cannot be reached just now; nothing was stored. Try again in a few seconds."


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}


def error_body(code: str, detail: str, field: str | None = None) -> dict:
    body = {"code": code, "detail": detail}
    if field is not None:
        body["field"] = field
    return body


def field_of(validation_error) -> tuple[str | None, str]:  # noqa: ANN001
    """The first failing field of a pydantic ValidationError, dotted, and its message."""
    errors = validation_error.errors() if hasattr(validation_error, "errors") else []
    if not errors:
        return None, str(validation_error)
    first = errors[0]
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__") or None
    return location, first.get("msg", "invalid value")


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def handle_api_error(error: ApiError):  # noqa: ANN202
        return (
            jsonify({**error_body(error.code, error.detail, error.field), **error.extra}),
            error.status,
            error.headers,
        )

    @app.errorhandler(LimitExceeded)
    async def handle_limit_exceeded(error: LimitExceeded):  # noqa: ANN202
        body, headers = error_body(error.code, error.detail), {}
        if error.retry_after_seconds is not None:
            body["retry_after_seconds"] = error.retry_after_seconds
            headers["Retry-After"] = str(error.retry_after_seconds)
        return jsonify(body), 429, headers

    @app.errorhandler(DatabaseUnavailable)
    async def handle_database_unavailable(error: DatabaseUnavailable):  # noqa: ANN202
        # Logged by the database handle, once per outage (web/database.py).
        body = {**error_body("unavailable", UNAVAILABLE_DETAIL), "retry_after_seconds": UNAVAILABLE_RETRY_AFTER_SECONDS}
        return jsonify(body), 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}

    @app.errorhandler(RequestSchemaValidationError)
    async def handle_validation_error(error: RequestSchemaValidationError):  # noqa: ANN202
        field, message = field_of(error.validation_error)
        detail = f"{field}: {message}" if field else f"Invalid request body: {message}"
        return jsonify(error_body("invalid_request", detail, field)), 400

    @app.errorhandler(HTTPException)
    async def handle_http_error(error: HTTPException):  # noqa: ANN202
        code = (error.name or "error").lower().replace(" ", "_")
        # Werkzeug's own headers, such as the Allow of a 405, but not its HTML content type.
        headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return jsonify(error_body(code, error.description or error.name)), error.code or 500, headers

    @app.errorhandler(Exception)
    async def handle_unexpected(error: Exception):  # noqa: ANN202
        log.exception("unhandled error: %s", type(error).__name__)
        return jsonify(error_body("internal_error", "Something went wrong on our side.")), 500
