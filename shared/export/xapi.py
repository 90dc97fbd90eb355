"""Scored sessions as xAPI 1.0.3 statements, one per session: the trainee (an account on
this deployment) *completed* the scenario (an activity) with the report's score.

Each statement's id is derived from the deployment's address and the session, so
sending an export again gives an LRS the same statements (it keeps one of each) rather
than duplicates. The criteria's scores travel as a result extension; no text of the
session does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ACTIVITY_TYPE = "http://adlnet.gov/expapi/activities/simulation"
MAX_SCORE = 100


def extension_iri(base_url: str, name: str) -> str:
    """The IRI of one of ChatTrain's extensions on this deployment."""
    return f"{base_url}/xapi/extensions/{name}"


def activity_iri(base_url: str, slug: str) -> str:
    """The scenario's activity id: its address in this deployment's API."""
    return f"{base_url}/api/scenarios/{quote(slug, safe='')}"


def session_statement(session: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """The statement of one scored session. `base_url` is the deployment's public address
    (the actor's account homePage and the root of every IRI)."""
    base = base_url.rstrip("/")
    report = session["report"]
    score = report["overall_score"]
    session_iri = f"{base}/api/sessions/{session['session_id']}"
    actor: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": base, "name": session["user_id"]}}
    if session["display_name"]:
        actor["name"] = session["display_name"]
    result: dict[str, Any] = {
        "score": {"scaled": score / MAX_SCORE, "raw": score, "min": 0, "max": MAX_SCORE},
        "completion": True,
        "extensions": {
            extension_iri(base, "criteria"): report["criteria"],
            extension_iri(base, "llm-score"): report["llm_overall_score"],
        },
    }
    if report["duration_seconds"] is not None:
        result["duration"] = f"PT{int(report['duration_seconds'])}S"
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{session_iri}#completed")),
        "actor": actor,
        "verb": {"id": VERB_COMPLETED, "display": {"en-US": "completed"}},
        "object": {
            "objectType": "Activity",
            "id": activity_iri(base, session["scenario_slug"]),
            "definition": {"name": {"und": session["scenario_title"]}, "type": ACTIVITY_TYPE},
        },
        "result": result,
        "context": {
            # One registration per session: an LRS groups the session's statements by it.
            "registration": str(uuid.uuid5(uuid.NAMESPACE_URL, session_iri)),
            "platform": "ChatTrain",
            "extensions": {
                extension_iri(base, "session-id"): session["session_id"],
                extension_iri(base, "ended-by"): session["ended_by"],
            },
        },
        "timestamp": session["ended_at"],
    }


def write_statements(sessions: Iterable[dict[str, Any]], out: TextIO, *, base_url: str) -> int:
    """Write the statements as one JSON array (what an LRS's statements resource takes in
    a POST), one statement per line, as they come; returns how many were written."""
    count = 0
    out.write("[")
    for session in sessions:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(session_statement(session, base_url=base_url), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
