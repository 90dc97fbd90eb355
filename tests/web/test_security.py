"""Security hygiene of every response: headers, error bodies without internals, CORS
settings that cannot be made unsafe, and a scenario's hidden content (the script, the
expected keywords, the rubric) never reaching a client."""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import Settings
from tests.support.client import open_socket
from tests.support.stack import REPO_ROOT
from web.app import create_app


async def _responses(client, users):  # noqa: ANN001, ANN202
    auth = users.trainee.headers
    session = await (await client.post("/api/sessions", json={"scenario_id": 1}, headers=auth)).get_json()
    return {
        "health": await client.get("/api/health"),
        "scenarios": await client.get("/api/scenarios", headers=auth),
        "session": await client.get(f"/api/sessions/{session['id']}", headers=auth),
        "document": await client.get("/api/documents/1/billing_and_refund_policy.md", headers=auth),
        "401": await client.get("/api/scenarios"),
        "404": await client.get("/api/sessions/999999", headers=auth),
        "no route": await client.get("/nowhere"),
        "openapi": await client.get("/openapi.json"),
        "docs": await client.get("/docs"),
        "redocs": await client.get("/redocs"),
    }


async def test_every_response_carries_the_security_headers(client, users):
    for name, response in (await _responses(client, users)).items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, name
        if name in ("docs", "redocs"):
            assert "script-src 'self';" in policy and "http" not in policy, name
        else:
            assert policy.startswith("default-src 'none'") and "script-src" not in policy, name


async def test_api_responses_are_never_cached(client, users):
    for name, response in (await _responses(client, users)).items():
        if name in ("health", "scenarios", "session", "document", "401", "404"):
            assert response.headers["Cache-Control"] == "no-store", name


async def test_an_unexpected_error_is_a_generic_500_without_internals(client, users, monkeypatch):
    import web.blueprints.scenarios as scenarios_blueprint

    def explode(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("boom in /srv/chattrain/secret_module.py line 42 token=abc123")

    monkeypatch.setattr(scenarios_blueprint, "scenario_view", explode)
    response = await client.get("/api/scenarios", headers=users.trainee.headers)
    assert response.status_code == 500
    text = await response.get_data(as_text=True)
    assert json.loads(text) == {"code": "internal_error", "detail": "Something went wrong on our side."}
    for leak in ("Traceback", "secret_module", ".py", "/srv", "abc123", "RuntimeError"):
        assert leak not in text
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("origins", [("*",), ("http://localhost:3000", " * ")])
def test_a_wildcard_cors_origin_is_refused(tmp_path, origins):
    with pytest.raises(ValidationError, match="not allowed"):
        Settings(data_dir=tmp_path, cors_allowed_origins=origins)


def test_a_wildcard_cors_origin_from_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("CHATTRAIN_CORS_ALLOWED_ORIGINS", '["*"]')
    with pytest.raises(ValidationError):
        Settings()


@contextlib.asynccontextmanager
async def _started(tmp_path: Path, database_url: str, **settings):  # noqa: ANN003, ANN202
    """The real app started on settings of the test's own choosing."""
    app = create_app(
        Settings(
            data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios", database_url=database_url, **settings
        )
    )
    async with app.test_app() as test_app:
        yield test_app


def test_no_other_origin_is_allowed_by_default(monkeypatch):
    """A page served on another local port (a dev server, or anything else listening
    there) must not read and write as the signed-in user unless it is configured."""
    monkeypatch.delenv("CHATTRAIN_CORS_ALLOWED_ORIGINS", raising=False)
    assert Settings().cors_allowed_origins == ()


async def test_cors_by_default_answers_no_other_origin(client):
    for origin in ("http://localhost:3000", "http://localhost:5173", "http://evil.example"):
        response = await client.get("/api/health", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin


async def test_cors_allows_configured_origins_only(tmp_path, database_url):
    async with _started(tmp_path, database_url, cors_allowed_origins=("http://localhost:3000",)) as app:
        client = app.test_client()
        allowed = await client.get("/api/health", headers={"Origin": "http://localhost:3000"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        other = await client.get("/api/health", headers={"Origin": "http://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        preflight = await client.options(
            "/api/sessions",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


# Hidden scenario content ---------------------------------------------------------------

SECRET_SCENARIO = textwrap.dedent(
    """\
    id: secret-check
    title: Secret Check Training
    description: A customer wants to know about their parcel.
    duration_minutes: 5
    persona:
      name: Sam Sentinel
      mood: curious
      background: HIDDENBACKGROUND backstory only the model may read.
    situation: HIDDENSITUATION the facts of the case.
    behaviour: HIDDENBEHAVIOUR how the customer acts.
    objectives:
      - Greet the customer.
    bot_messages:
      - content: Hello, where is my parcel?
        expected_keywords: ["hiddenkwone|hiddenkwtwo", "hiddenkwthree"]
      - content: HIDDENSCRIPTLINE the second scripted turn.
        expected_keywords: ["hiddenkwfour"]
    completion:
      min_exchanges: 1
      required_keywords: ["hiddenrequired"]
    rubric:
      - name: Greeting
        description: HIDDENRUBRICDESCRIPTION what a good greeting is.
        keywords: ["hiddenrubrickw"]
        phrases: ["hidden rubric phrase"]
        patterns: ['\\bhiddenpattern\\d+\\b']
        forbidden: ["hiddenforbidden"]
    documents:
      - filename: guide.md
        title: Parcel Guide
    """
)
HIDDEN = (
    "HIDDENBACKGROUND",
    "HIDDENSITUATION",
    "HIDDENBEHAVIOUR",
    "HIDDENSCRIPTLINE",
    "hiddenkwone",
    "hiddenkwtwo",
    "hiddenkwthree",
    "hiddenkwfour",
    "hiddenrequired",
    "HIDDENRUBRICDESCRIPTION",
    "hiddenrubrickw",
    "hidden rubric phrase",
    "hiddenpattern",
    "hiddenforbidden",
    "expected_keywords",
    "required_keywords",
    "rubric",
)


def _hidden_strings_of_real_scenarios() -> set[str]:
    """Whole hidden strings of the shipped scenarios that cannot occur by chance in public
    text: keyword alternatives lists, rubric descriptions, the situation's lines."""
    from shared.scenarios import load_scenarios

    scenarios, _ = load_scenarios(REPO_ROOT / "scenarios")
    hidden = set()
    for scenario in scenarios:
        for message in scenario.bot_messages:
            hidden.update(k for k in message.expected_keywords if "|" in k)
        hidden.update(k for k in scenario.completion.required_keywords if "|" in k)
        for criterion in scenario.rubric:
            hidden.add(criterion.description)
            hidden.update(k for k in criterion.keywords + criterion.phrases + criterion.forbidden if "|" in k)
            hidden.update(criterion.patterns)
        hidden.update(
            line.strip() for line in (scenario.situation + scenario.behaviour).splitlines() if len(line.strip()) > 30
        )
    return {text for text in hidden if text}


@pytest.fixture(name="settings")
def _settings_with_a_secret_scenario(tmp_path: Path, database_url: str) -> Settings:
    scenarios_dir = tmp_path / "scenarios"
    shutil.copytree(REPO_ROOT / "scenarios", scenarios_dir)
    (scenarios_dir / "secret-check").mkdir()
    (scenarios_dir / "secret-check" / "scenario.yaml").write_text(SECRET_SCENARIO)
    (scenarios_dir / "secret-check" / "guide.md").write_text("# Parcel guide\n\nParcels arrive in 3 days.\n")
    return Settings(data_dir=tmp_path / "data", scenarios_dir=scenarios_dir, database_url=database_url)


async def test_no_get_endpoint_or_socket_frame_reveals_hidden_scenario_content(app, client, users):
    catalog = app.app.catalog
    assert len(catalog.by_id) == 3, catalog.errors
    hidden = set(HIDDEN) | _hidden_strings_of_real_scenarios()
    seen: list[str] = []
    # Every GET route but the API's own description (whose schemas name fields such as
    # required_keywords: names, not a scenario's values).
    get_rules = [
        rule
        for rule in app.app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.websocket
        and rule.rule not in ("/openapi.json", "/docs", "/redocs", "/apidocs/<path:asset>")
    ]
    for scenario_id, scenario in catalog.items():
        created = await client.post("/api/sessions", json={"scenario_id": scenario_id}, headers=users.trainee.headers)
        session_id = (await created.get_json())["id"]
        values = {
            "session_id": session_id,
            "ident": scenario_id,
            "scenario_id": scenario_id,
            "filename": scenario.documents[0].filename,
            "asset": "main.js",
        }
        for user in (users.trainee, users.trainer):
            for rule in get_rules:
                url = rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]
                response = await client.get(url, headers=user.headers)
                # /readyz's 503 is its verdict (no worker runs beside the test app), not a failure.
                assert response.status_code < 500 or rule.rule == "/readyz", url
                seen.append(await response.get_data(as_text=True))
        async with open_socket(client, f"/chat/{session_id}", users.trainee) as ws:
            await ws.send(json.dumps({"type": "session_start"}))
            seen.append(await ws.receive())
            seen.append(await ws.receive())  # the opening line
    # JSON escapes (quotes, newlines, non-ASCII) are undone so whole strings can match.
    texts = [
        json.dumps(json.loads(text), ensure_ascii=False) if text.lstrip().startswith(("{", "[")) else text
        for text in seen
    ]
    decoded = "\n".join(_all_strings(text) for text in texts)
    leaks = sorted(secret for secret in hidden if secret in decoded)
    assert leaks == []
    assert "Hello, where is my parcel?" in decoded  # the opening line is public: the walk did see content


def _all_strings(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    out: list[str] = []

    def walk(value) -> None:  # noqa: ANN001
        if isinstance(value, dict):
            for key, item in value.items():
                out.append(str(key))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            out.append(str(value))

    walk(data)
    return "\n".join(out)
