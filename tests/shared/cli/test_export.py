"""`chattrain export scores` on conversations stored through the real app and worker
(tests/shared/cli/conftest.py): the CSV and the xAPI statements carry the reports'
numbers exactly, follow the filters, and hold no text of any session."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from shared.db.scored_sessions import iter_scored_sessions
from shared.export.scores_csv import COLUMNS
from shared.lib.clock import utc_now

BASE = "https://train.example.com"


async def _stored(client, trainees) -> dict[int, dict]:  # noqa: ANN001
    """Each scored session as the API shows it: {session_id: {"session", "report", "trainee"}}."""
    stored = {}
    for trainee in trainees:
        for session_id in trainee.session_ids:
            session = await (await client.get(f"/api/sessions/{session_id}", headers=trainee.user.headers)).get_json()
            response = await client.get(f"/api/sessions/{session_id}/report", headers=trainee.user.headers)
            if response.status_code == 200:
                stored[session_id] = {"session": session, "report": await response.get_json(), "trainee": trainee}
    return stored


def _texts(stored: dict[int, dict]) -> list[str]:
    """What the trainee typed and every piece of text the reports hold: none may leave."""
    texts = []
    for entry in stored.values():
        trainee, report = entry["trainee"], entry["report"]
        texts += [trainee.email, *trainee.typed, *(message["content"] for message in entry["session"]["messages"])]
        for item in (*report["criteria"], *report["strengths"], *report["improvements"]):
            texts += [evidence["quote"] for evidence in item.get("evidence", []) if evidence["quote"]]
            texts += [item["text"]] if "text" in item else []
    return [text for text in texts if len(text) > 12]


def _assert_no_text(output: str, stored: dict[int, dict]) -> None:
    messages = [m["content"] for entry in stored.values() for m in entry["session"]["messages"]]
    assert any("[EMAIL_1]" in message for message in messages)  # the sessions hold masked text
    for text in _texts(stored):
        assert text not in output
    assert "[EMAIL_" not in output and "@example." not in output


async def test_csv_has_a_row_per_session_and_criterion_with_the_reports_scores_and_no_text(
    trainees, client, chattrain, tmp_path
):
    stored = await _stored(client, trainees)
    assert len(stored) == 4  # two scored sessions each; the active ones have no report
    out = tmp_path / "scores.csv"
    result = await chattrain("export", "scores", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr == "Exported 4 scored sessions.\n"
    text = out.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == COLUMNS

    expected = []
    for session_id, entry in sorted(stored.items()):
        session, report, trainee = entry["session"], entry["report"], entry["trainee"]
        assert report["criteria"]  # the shipped scenario has a rubric
        for criterion in report["criteria"]:
            expected.append(
                {
                    "user_id": trainee.user.id,
                    "display_name": trainee.display_name,
                    "session_id": str(session_id),
                    "scenario_slug": "customer-service",
                    "scenario_title": "Customer Service Training",
                    "started_at": session["created_at"],
                    "ended_at": session["completed_at"],
                    "ended_by": "trainee_ended",
                    "duration_seconds": str(report["duration_seconds"]),
                    "overall_score": str(report["overall_score"]),
                    "llm_overall_score": "",
                    "criterion": criterion["name"],
                    "criterion_weight": str(criterion["weight"]),
                    "criterion_score": "" if criterion["score"] is None else str(criterion["score"]),
                    "llm_criterion_score": "",
                }
            )
    assert rows == expected
    _assert_no_text(text, stored)


async def test_the_filters_keep_one_trainee_and_the_sessions_ended_since_a_date(trainees, chattrain):
    erin, kept = trainees
    result = await chattrain("export", "scores", "--user-id", kept.user.id)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {row["user_id"] for row in rows} == {kept.user.id}
    assert {int(row["session_id"]) for row in rows} == set(kept.session_ids[:2])

    today = utc_now().date()
    result = await chattrain("export", "scores", "--since", today.isoformat())
    assert len({row["session_id"] for row in csv.DictReader(io.StringIO(result.stdout))}) == 4
    result = await chattrain("export", "scores", "--since", (today + timedelta(days=1)).isoformat())
    assert result.stdout == ",".join(COLUMNS) + "\n"
    assert result.stderr == "Exported 0 scored sessions.\n"


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_DURATION = re.compile(r"^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp"}


def _iri(value: object) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return bool(parts and parts.scheme and (parts.netloc or parts.path))


def _language_map(value: object) -> bool:
    return isinstance(value, dict) and all(_LANGUAGE_TAG.match(k) and isinstance(v, str) for k, v in value.items())


def assert_valid_xapi_statement(statement: dict) -> None:
    """The xAPI 1.0.3 rules (Data, section 2.4) a statement sent to an LRS must keep,
    for the properties these statements use."""
    assert set(statement) <= _STATEMENT_KEYS and {"actor", "verb", "object"} <= set(statement)
    assert _UUID.match(statement["id"])
    actor = statement["actor"]
    assert actor["objectType"] == "Agent"
    identifiers = {"mbox", "mbox_sha1sum", "openid", "account"} & set(actor)
    assert identifiers == {"account"}  # exactly one inverse functional identifier
    account = actor["account"]
    assert set(account) == {"homePage", "name"} and isinstance(account["name"], str) and account["name"]
    assert urlsplit(account["homePage"]).scheme in ("http", "https")  # an IRL
    assert isinstance(actor.get("name", ""), str)
    verb = statement["verb"]
    assert _iri(verb["id"]) and _language_map(verb["display"])
    activity = statement["object"]
    assert activity["objectType"] == "Activity" and _iri(activity["id"])
    assert _language_map(activity["definition"]["name"]) and _iri(activity["definition"]["type"])
    result = statement["result"]
    score = result["score"]
    assert -1 <= score["scaled"] <= 1
    assert score["min"] < score["max"] and score["min"] <= score["raw"] <= score["max"]
    assert isinstance(result["completion"], bool)
    assert _DURATION.match(result["duration"])
    context = statement["context"]
    assert _UUID.match(context["registration"])
    for extensions in (result["extensions"], context["extensions"]):
        assert all(_iri(key) for key in extensions)
    datetime.fromisoformat(statement["timestamp"])  # ISO 8601, with its time zone
    assert datetime.fromisoformat(statement["timestamp"]).tzinfo is not None


async def test_xapi_statements_are_valid_carry_each_sessions_scores_and_keep_their_ids(
    trainees, client, chattrain, tmp_path
):
    stored = await _stored(client, trainees)
    out = tmp_path / "statements.json"
    result = await chattrain("export", "scores", "--format", "xapi", "--output", str(out))
    assert result.exit_code == 0, result.output
    statements = json.loads(out.read_text())
    assert len(statements) == 4
    for statement in statements:
        assert_valid_xapi_statement(statement)
        session_id = statement["context"]["extensions"][f"{BASE}/xapi/extensions/session-id"]
        entry = stored[session_id]
        report, trainee = entry["report"], entry["trainee"]
        assert statement["actor"] == {
            "objectType": "Agent",
            "account": {"homePage": BASE, "name": trainee.user.id},
            "name": trainee.display_name,
        }
        assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"
        assert statement["object"]["id"] == f"{BASE}/api/scenarios/customer-service"
        overall = report["overall_score"]
        assert statement["result"]["score"] == {"scaled": overall / 100, "raw": overall, "min": 0, "max": 100}
        assert statement["result"]["duration"] == f"PT{report['duration_seconds']}S"
        assert statement["result"]["extensions"][f"{BASE}/xapi/extensions/criteria"] == [
            {"name": c["name"], "weight": c["weight"], "score": c["score"]} for c in report["criteria"]
        ]
        assert statement["timestamp"] == entry["session"]["completed_at"]
    assert len({s["id"] for s in statements}) == len({s["context"]["registration"] for s in statements}) == 4
    _assert_no_text(out.read_text(), stored)

    again = await chattrain("export", "scores", "--format", "xapi")
    assert [s["id"] for s in json.loads(again.stdout)] == [s["id"] for s in statements]  # an LRS keeps one of each
    assert all(isinstance(uuid.UUID(s["id"]), uuid.UUID) for s in statements)


async def test_sessions_are_read_a_page_at_a_time_in_order(trainees, runtime):
    everything = list(iter_scored_sessions(runtime.engine))
    assert [s["session_id"] for s in everything] == sorted(s["session_id"] for s in everything)
    assert list(iter_scored_sessions(runtime.engine, page_size=1)) == everything
    assert len(everything) == 4
    assert set(everything[0]["report"]) == {
        "overall_score",
        "duration_seconds",
        "exchanges",
        "criteria",
        "llm_overall_score",
        "llm_criteria",
    }


async def test_xapi_without_a_public_address_and_a_malformed_date_are_refused(trainees, chattrain):
    result = await chattrain("export", "scores", "--format", "xapi", env={"CHATTRAIN_PUBLIC_BASE_URL": ""})
    assert result.exit_code == 2 and "set CHATTRAIN_PUBLIC_BASE_URL or pass --base-url" in result.output
    result = await chattrain("export", "scores", "--format", "xapi", "--base-url", "train.example.com")
    assert result.exit_code == 2 and "must start with http:// or https://" in result.output
    result = await chattrain("export", "scores", "--since", "07/12/2026")
    assert result.exit_code == 2 and "--since" in result.output
