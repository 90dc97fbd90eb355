"""The OpenAPI document, made true to the routes: quart-schema builds it from the
decorators, and this provider adds what they do not say.

- Path templates: quart-schema's pattern read `<scenario_id>/<path:filename>` as one
  parameter (`{filename}`), a URL that does not exist; here each `<...>` is its own.
- Path parameters carry what the router accepts (an integer row id is 0 to 2^63-1).
- Query parameters are optional rather than "null": a query string cannot carry null.
- Request bodies are required, and every operation lists the errors it can answer, in
  the one error shape (web/errors.py): 401 and 403 from its auth decorator, 400 from a
  query or body model, 413 and 415 for a body, 404 for a path parameter, and whatever
  else the handler raises, named with `@document_errors`; and 503 for any of them while
  the database is away."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from quart_schema import OpenAPIProvider
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import BaseConverter, IntegerConverter, Rule

from web.auth import AUTH_ATTRIBUTE
from web.models import ErrorBody

ERRORS_ATTRIBUTE = "_chattrain_errors"
CONTENT_ATTRIBUTE = "_chattrain_content"

# `<converter:name>` or `<name>`; unlike quart-schema's pattern, the converter part cannot
# run past a `>` into the next parameter.
_PATH_PARAMETER = re.compile(r"<(?:[^:<>]*:)?([^<>]+)>")

ERROR_DESCRIPTIONS = {
    400: "The request is invalid: `field` names what is wrong.",
    401: "Not signed in: no token, or one that is unknown, rotated or disabled.",
    403: "Signed in, but not allowed to do this.",
    404: "Nothing at this address for you: an unknown id, or one you may not see.",
    405: "The method is not allowed here; `Allow` lists the methods that are.",
    409: "It clashes with what is stored (a user id taken, a user disabled); nothing was changed.",
    413: "The request body is larger than CHATTRAIN_MAX_FRAME_BYTES.",
    415: "The body is not JSON in UTF-8.",
    429: "Over a limit: `retry_after_seconds` (and the Retry-After header) say when to try again, when waiting helps.",
    503: "The database cannot be reached just now; nothing was stored. Try again after `retry_after_seconds`.",
}
AUTH_ERRORS = {"user": (401,), "trainer": (401, 403), "optional": (401,)}


def document_errors(*statuses: int) -> Callable:
    """Route decorator: the handler itself answers these error statuses (beyond those its
    auth, validation and path parameters imply). Put it last, right above the function."""

    def decorator(handler: Callable) -> Callable:
        setattr(handler, ERRORS_ATTRIBUTE, (*getattr(handler, ERRORS_ATTRIBUTE, ()), *statuses))
        return handler

    return decorator


def document_content(status: int, content_type: str, description: str = "") -> Callable:
    """Route decorator: the handler answers `status` with a body of `content_type` that is
    not JSON (a transcript as Markdown, a document's file), besides any JSON its
    @validate_response describes. Put it last, right above the function."""

    def decorator(handler: Callable) -> Callable:
        content = {**getattr(handler, CONTENT_ATTRIBUTE, {})}
        content[status] = (*content.get(status, ()), (content_type, description))
        setattr(handler, CONTENT_ATTRIBUTE, content)
        return handler

    return decorator


def openapi_path(rule: Rule) -> str:
    """The OpenAPI path template of a URL rule: `/a/<int:b>/<path:c>` is `/a/{b}/{c}`."""
    return _PATH_PARAMETER.sub(r"{\1}", rule.rule)


class ChatTrainOpenAPIProvider(OpenAPIProvider):
    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        (operations,) = paths.values()
        func = self._app.view_functions[rule.endpoint]
        statuses = self._error_statuses(func, rule)
        content = getattr(func, CONTENT_ATTRIBUTE, {})
        for method, operation in operations.items():
            operation = operations[method] = {**operation, "responses": dict(operation["responses"])}
            operation["parameters"] = [_optional_query(parameter) for parameter in operation["parameters"]]
            if "requestBody" in operation:
                operation["requestBody"] = {**operation["requestBody"], "required": True}
            for status, types in content.items():
                response = operation["responses"].get(status, {"description": ""})
                response = operation["responses"][status] = {**response, "content": {**response.get("content", {})}}
                for content_type, description in types:
                    response["content"][content_type] = {"schema": {"type": "string", "format": "binary"}}
                    response["description"] = response["description"] or description
            for status in sorted(statuses):
                operation["responses"][status] = {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
        components["ErrorBody"] = ErrorBody.model_json_schema()
        return {openapi_path(rule): operations}, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, IntegerConverter):
            parameter["schema"] = {"type": "integer", "minimum": converter.min or 0}
            if converter.max is not None:
                parameter["schema"]["maximum"] = converter.max
        return parameter

    @staticmethod
    def _error_statuses(func: Callable, rule: Rule) -> set[int]:
        statuses = set(AUTH_ERRORS.get(getattr(func, AUTH_ATTRIBUTE, None), ()))
        statuses.update(getattr(func, ERRORS_ATTRIBUTE, ()))
        if getattr(func, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None) is not None:
            statuses.add(400)
        if getattr(func, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None:
            statuses.update((400, 413, 415))
        if rule.arguments:
            statuses.add(404)  # a value the router does not accept, or no such row
        if statuses:
            statuses.add(503)  # it reads the database (to authenticate, at least)
        return statuses


def _optional_query(parameter: dict[str, Any]) -> dict[str, Any]:
    """A query parameter whose model allows None is simply optional: drop the null."""
    schema = parameter.get("schema", {})
    if parameter.get("in") != "query" or "anyOf" not in schema:
        return parameter
    branches = [branch for branch in schema["anyOf"] if branch != {"type": "null"}]
    rest = {key: value for key, value in schema.items() if key != "anyOf" and not (key == "default" and value is None)}
    schema = {**rest, **branches[0]} if len(branches) == 1 else {**rest, "anyOf": branches}
    return {**parameter, "schema": schema, "required": False}
