"""The `chattrain` command, through click's test runner, on a database the test creates
with `chattrain db upgrade` and fills with the same data functions the servers use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.cli.main import main
from shared.conversation.writes import end_session, store_reply_feedback, write_opening_line, write_report
from shared.db import messages as message_rows
from shared.db import sessions as session_rows
from shared.db.engine import BEGIN_MODE, create_sync_engine
from shared.db.scenario_rows import upsert_scenario
from shared.scenarios import load_scenario
from shared.settings import Settings
from shared.training.scoring import reply_feedback
from tests.support.stack import REPO_ROOT

SCENARIOS = REPO_ROOT / "scenarios"
BROKEN = REPO_ROOT / "tests" / "data" / "scenarios" / "mixed"
TRAINEE_LINE = "I'm so sorry about this. Let me help with your account and the charge."


def test_validate_passes_the_shipped_scenarios():
    result = CliRunner().invoke(main, ["scenarios", "validate", str(SCENARIOS)])
    assert result.exit_code == 0, result.output
    assert "ok     customer-service: Customer Service Training" in result.output
    assert "ok     technical-support" in result.output
    assert "2 valid scenarios, no problems." in result.output


def test_validate_fails_a_folder_with_broken_scenarios_and_names_each_problem():
    result = CliRunner().invoke(main, ["scenarios", "validate", str(BROKEN)])
    assert result.exit_code == 1
    assert "ok     good-one" in result.output
    assert "error  tests/data/scenarios/mixed/d_bad_regex/scenario.yaml" in result.output
    assert "masking.patterns[0].regex: invalid regular expression" in result.output
    assert "duplicate slug 'good-one'" in result.output
    assert "j_no_scenario_file" not in result.output  # a folder without a scenario file is no error


def test_validate_fails_a_folder_without_any_scenario(tmp_path: Path):
    result = CliRunner().invoke(main, ["scenarios", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "No scenario files found" in result.output


@pytest.fixture(name="cli")
def _cli(tmp_path: Path) -> CliRunner:
    """A runner whose CHATTRAIN_* settings point at a fresh, migrated database."""
    runner = CliRunner(env={"CHATTRAIN_DATA_DIR": str(tmp_path / "data"), "CHATTRAIN_SCENARIOS_DIR": str(SCENARIOS)})
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "is up to date" in result.output
    return runner


@pytest.fixture(name="sessions")
def _sessions(cli: CliRunner, tmp_path: Path) -> dict[str, int]:
    """Two sessions: `done` (one scored message, ended, reported) and `active`."""
    scenario = load_scenario(SCENARIOS / "customer-service" / "scenario.yaml")
    url = Settings(data_dir=tmp_path / "data").resolved_database_url
    engine = create_sync_engine(url).execution_options(**{BEGIN_MODE: "IMMEDIATE"})
    try:
        with engine.begin() as conn:
            scenario_id = upsert_scenario(
                conn, slug=scenario.slug, title=scenario.title, config={}, file_path=str(scenario.folder)
            )
            done = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-1")["id"]
            write_opening_line(conn, session_id=done, content=scenario.opening_line)
            message = message_rows.insert_message(conn, session_id=done, role="user", content=TRAINEE_LINE)
            feedback = reply_feedback(scenario, 0, TRAINEE_LINE)  # answers the opening line
            store_reply_feedback(conn, session_id=done, message=message, feedback=feedback)
            end_session(conn, session_id=done)
            write_report(conn, scenario, session_rows.select_session(conn, done))
            active = session_rows.insert_session(conn, scenario_id=scenario_id, user_id="trainee-2")["id"]
    finally:
        engine.dispose()
    return {"done": done, "active": active}


def test_sessions_list_shows_every_session_newest_first_with_its_score(cli, sessions):
    result = cli.invoke(main, ["sessions", "list"])
    assert result.exit_code == 0, result.output
    header, newest, oldest = result.output.splitlines()
    assert header.split() == ["ID", "SCENARIO", "USER_ID", "STATUS", "CREATED_AT", "ENDED_BY", "SCORE"]
    assert newest.split()[:4] == [str(sessions["active"]), "customer-service", "trainee-2", "active"]
    assert oldest.split()[:4] == [str(sessions["done"]), "customer-service", "trainee-1", "completed"]
    assert oldest.split()[-2] == "trainee_ended" and oldest.split()[-1].isdigit()


def test_sessions_list_filters_by_user_scenario_and_status(cli, sessions):
    def ids(*options: str) -> list[int]:
        result = cli.invoke(main, ["sessions", "list", "--json", *options])
        assert result.exit_code == 0, result.output
        return [row["id"] for row in json.loads(result.output)]

    assert ids("--status", "completed") == [sessions["done"]]
    assert ids("--user-id", "trainee-2") == [sessions["active"]]
    assert ids("--scenario", "customer-service") == [sessions["active"], sessions["done"]]
    assert ids("--scenario", "1", "--status", "active") == [sessions["active"]]
    unknown = cli.invoke(main, ["sessions", "list", "--scenario", "nope"])
    assert unknown.exit_code == 2 and "no scenario with id or slug 'nope'" in unknown.output


def test_sessions_transcript_prints_markdown_with_the_feedback_and_report(cli, sessions):
    result = cli.invoke(main, ["sessions", "transcript", str(sessions["done"])])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Transcript: Customer Service Training")
    assert f"> {TRAINEE_LINE}" in result.output
    assert "*Feedback: " in result.output
    assert "## Report" in result.output


def test_sessions_transcript_as_json_carries_each_trainee_messages_feedback(cli, sessions):
    result = cli.invoke(main, ["sessions", "transcript", str(sessions["done"]), "--format", "json"])
    assert result.exit_code == 0, result.output
    transcript = json.loads(result.output)
    assert transcript["id"] == sessions["done"] and transcript["status"] == "completed"
    trainee = [m for m in transcript["messages"] if m["role"] == "user"]
    assert [m["content"] for m in trainee] == [TRAINEE_LINE]
    assert trainee[0]["feedback"]["matched"]
    assert transcript["report"]["ended_by"] == "trainee_ended"


def test_sessions_report_prints_the_stored_report(cli, sessions):
    result = cli.invoke(main, ["sessions", "report", str(sessions["done"])])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["exchanges"] == 1 and 0 <= report["overall_score"] <= 100


@pytest.mark.parametrize(("which", "message"), [("active", "is still active"), ("missing", "no session")])
def test_sessions_report_fails_without_a_report(cli, sessions, which, message):
    session_id = sessions.get(which, 999)
    result = cli.invoke(main, ["sessions", "report", str(session_id)])
    assert result.exit_code == 1
    assert message in result.output


def test_reading_sessions_before_db_upgrade_says_what_to_do(tmp_path: Path):
    (tmp_path / "data").mkdir()
    runner = CliRunner(env={"CHATTRAIN_DATA_DIR": str(tmp_path / "data")})
    result = runner.invoke(main, ["sessions", "list"])
    assert result.exit_code == 1
    assert "chattrain db upgrade" in result.output


def test_other_modules_can_add_command_groups():
    import click

    @click.group("extra")
    def extra() -> None:
        """An added group."""

    main.add_command(extra)
    try:
        assert "extra" in CliRunner().invoke(main, ["--help"]).output
    finally:
        main.commands.pop("extra")


PLAIN_WORDS = REPO_ROOT / "tests" / "data" / "scenarios" / "plain_words" / "hotel"


def test_try_scores_the_scenarios_own_examples_and_shows_the_points_each_makes():
    result = CliRunner().invoke(main, ["scenarios", "try", str(PLAIN_WORDS)])
    assert result.exit_code == 0, result.output
    assert "line 1 example 1, line 1: score" in result.output
    assert "made   apologises for the lost booking" in result.output
    assert "1 reply scored" in result.output


def test_try_scores_a_replies_file_with_the_trainers_label_and_warns_about_points_nobody_makes(tmp_path: Path):
    replies = tmp_path / "replies.tsv"
    replies.write_text(
        "id\tline\tscore\treply\n"
        "a\t1\t85\tSo sorry! We've booked you a room at the partner hotel next door tonight, on us.\n"
        "b\t1\t10\tOur spa is open until ten.\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["scenarios", "try", str(PLAIN_WORDS), "--replies", str(replies)])
    assert result.exit_code == 0, result.output
    assert "a, line 1: score" in result.output and "(trainer 85)" in result.output
    assert "b, line 1: score 10 (trainer 10)" in result.output
    assert "  missed apologises for the lost booking (0%)" in result.output
    assert "warning  line 1: no sample reply makes the point 'says the hotel pays for the taxi there'" in result.output


def test_try_names_the_row_of_a_bad_replies_file(tmp_path: Path):
    replies = tmp_path / "replies.tsv"
    replies.write_text("line\treply\n7\tHello\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scenarios", "try", str(PLAIN_WORDS), "--replies", str(replies)])
    assert result.exit_code == 1
    assert "row 2: 'line' must be a customer line number from 1 to 1" in result.output


def test_try_reports_a_scenario_that_does_not_load(tmp_path: Path):
    (tmp_path / "scenario.yaml").write_text("id: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scenarios", "try", str(tmp_path)])
    assert result.exit_code == 1
    assert "title: field required" in result.output


def test_try_on_the_guides_annotated_example_shows_what_the_guide_says(tmp_path: Path):
    guide = (REPO_ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    example = guide.split("## An annotated example")[1].split("```yaml\n")[1].split("```")[0]
    (tmp_path / "scenario.yaml").write_text(example, encoding="utf-8")
    shown = guide.split("On the annotated example above")[1].split("```\n")[1].split("```")[0]
    result = CliRunner().invoke(main, ["scenarios", "try", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output == shown
    reworded = example.replace(
        "label: sends a free replacement lamp today", "label: sends a new lamp today, free of charge"
    )
    (tmp_path / "scenario.yaml").write_text(reworded, encoding="utf-8")
    assert "line 1 example 1, line 1: score 100" in CliRunner().invoke(main, ["scenarios", "try", str(tmp_path)]).output
