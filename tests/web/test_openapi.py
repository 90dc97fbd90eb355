"""The OpenAPI document against the app's URL map: every route is described at its real
path with its real parameters, every described path reaches a handler, and every
operation declares the errors it can answer (the schemathesis run, tests/e2e, checks
the answers themselves)."""

from __future__ import annotations

import re

import pytest
from quart_schema.openapi import QUART_SCHEMA_HIDDEN_ATTRIBUTE

# The document itself; the documentation pages and their assets are hidden (@hide).
DOC_ENDPOINTS = {"openapi"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(name="document")
async def _document(client) -> dict:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return await response.get_json()


def _api_rules(app):  # noqa: ANN001, ANN202
    return [
        rule
        for rule in app.app.url_map.iter_rules()
        if not rule.websocket
        and rule.endpoint not in DOC_ENDPOINTS
        and not getattr(app.app.view_functions[rule.endpoint], QUART_SCHEMA_HIDDEN_ATTRIBUTE, False)
    ]


def _rule_as_template(rule) -> str:  # noqa: ANN001
    return re.sub(r"<(?:[^:<>]*:)?([^<>]+)>", r"{\1}", rule.rule)


async def test_every_route_is_in_the_openapi_document_with_its_path_parameters(app, document):
    paths = document["paths"]
    for rule in _api_rules(app):
        template = _rule_as_template(rule)
        assert template in paths, f"{rule.rule} is not described"
        for method in rule.methods - IGNORED_METHODS:
            operation = paths[template].get(method.lower())
            assert operation is not None, f"{method} {template} is not described"
            described = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert described == set(rule.arguments), f"{method} {template}: {described} != {set(rule.arguments)}"
            assert set(re.findall(r"{([^}]+)}", template)) == described


async def test_the_documents_route_is_described_with_both_its_parameters(document):
    assert "/api/documents/{scenario_id}/{filename}" in document["paths"]
    assert "/api/documents/{filename}" not in document["paths"]


async def test_every_described_path_reaches_a_handler(client, users, document):
    """A routing 404 has the code not_found; a handler's 404 names what is missing."""
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            url = template
            for parameter in operation["parameters"]:
                if parameter["in"] == "path":
                    value = "1" if parameter["schema"].get("type") == "integer" else "x"
                    url = url.replace("{" + parameter["name"] + "}", value)
            kwargs = {"json": {"scenario_id": 1}} if "requestBody" in operation else {}
            response = await client.open(url, method=method.upper(), headers=users.trainer.headers, **kwargs)
            body = await response.get_json()
            assert not (response.status_code == 404 and body["code"] == "not_found"), f"{method} {url}: routing 404"


# Operations that take no token at all: signing in exchanges a sign-in link's code.
TOKENLESS_OPERATIONS = {("post", "/api/sign-in")}


async def test_every_operation_declares_its_errors_in_the_error_model(document):
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            label = f"{method} {template}"
            if (method, template) not in TOKENLESS_OPERATIONS:
                assert "401" in responses or 401 in responses, label  # every other operation checks a token
            if any(p["in"] == "path" for p in operation["parameters"]):
                assert "404" in responses, label
            if any(p["in"] == "query" for p in operation["parameters"]):
                assert "400" in responses, label
            if "requestBody" in operation:
                assert operation["requestBody"]["required"] is True, label
                assert {"400", "413", "415"} <= set(responses), label
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"
                    }
    assert {"code", "detail"} <= set(document["components"]["schemas"]["ErrorBody"]["properties"])


async def test_specific_declarations(document):
    paths = document["paths"]
    assert {"403", "404", "429"} <= set(paths["/api/sessions"]["post"]["responses"])
    assert "403" in paths["/api/scenarios/{ident}/stats"]["get"]["responses"]
    assert "429" in paths["/api/ws-ticket"]["post"]["responses"]
    assert "text/markdown" in paths["/api/sessions/{session_id}/transcript"]["get"]["responses"]["200"]["content"]
    usage = {p["name"]: p for p in paths["/api/usage"]["get"]["parameters"]}
    assert "Must not be after `to`" in usage["from"]["description"]
    assert "at most 366 days" in usage["from"]["description"]
    sign_in = paths["/api/sign-in"]["post"]
    assert "400" in sign_in["responses"] and "`sign_in_link_invalid`" in sign_in["description"]
    session_id = paths["/api/sessions/{session_id}"]["get"]["parameters"][0]["schema"]
    assert session_id == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


async def test_a_405_names_the_allowed_methods(client):
    response = await client.delete("/api/health")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert response.headers["Content-Type"] == "application/json"
    assert (await response.get_json())["code"] == "method_not_allowed"


async def test_unknown_query_parameters_and_bad_days_are_refused(client, users):
    assert (await client.get("/api/sessions?stauts=active", headers=users.trainer.headers)).status_code == 400
    response = await client.get("/api/usage?to=0", headers=users.trainer.headers)
    assert response.status_code == 400 and (await response.get_json())["field"] == "to"
