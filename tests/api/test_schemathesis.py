"""Property-based tests of every HTTP operation from the app's own OpenAPI document
(schemathesis, over ASGI, so no server is started): whatever the generated input, the
API never answers with a server error. Requests are signed in as a trainer (a bearer
header on every call), so every operation runs past authentication."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, note, settings
from schemathesis.checks import not_a_server_error

from shared.clock import utc_now_iso
from shared.db.engine import create_sync_engine
from shared.db.schema import users
from shared.db.users import hash_secret, new_secret
from shared.settings import Settings
from tests.support.stack import REPO_ROOT
from web.app import create_app

TOKEN = new_secret()


@pytest.fixture(name="api_schema")
def _api_schema(tmp_path: Path):
    app_settings = Settings(data_dir=tmp_path / "data", scenarios_dir=REPO_ROOT / "scenarios")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))  # runs the app's start-up
    engine = create_sync_engine(app_settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(
            users.insert().values(
                id="fuzz-trainer", role="trainer", token_hash=hash_secret(TOKEN), disabled=False, created_at=utc_now_iso()
            )
        )
    engine.dispose()
    yield schema
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()  # stop this app's tailer and database before the next test's app


def test_no_generated_request_gets_a_server_error(api_schema):
    # Each operation's strategy is driven here rather than through schemathesis's pytest
    # plugin (`from_fixture`), whose lazy loading does not work with pytest 9; the bearer
    # header goes on every call.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        statuses = _fuzz(operation)
        assert statuses - {401}, f"{operation.label}: every request was refused as unauthenticated"


def _fuzz(operation) -> set[int]:  # noqa: ANN001
    """Run one operation's generated cases; return the status codes seen."""
    statuses: set[int] = set()

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):  # noqa: ANN001, ANN202
        note(f"{case.method} {case.formatted_path}")
        response = case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error])
        statuses.add(response.status_code)

    run()
    return statuses
