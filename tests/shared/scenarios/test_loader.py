"""Scenario model, loader, shipped content and keyword matching."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from shared.scenarios import Scenario, ScenarioError, ScenarioLoadError, load_scenario, load_scenarios
from shared.scenarios.keywords import keyword_matches
from tests.support.stack import REPO_ROOT

SHIPPED_DIR = REPO_ROOT / "scenarios"
FIXTURES_DIR = REPO_ROOT / "tests" / "data" / "scenarios"
MIXED_DIR = FIXTURES_DIR / "mixed"
LEGACY_FILE = FIXTURES_DIR / "legacy_layout" / "billing_inquiry_v1" / "scenario.yaml"

PUBLIC_KEYS = {"slug", "title", "description", "duration_minutes", "persona", "objectives", "documents"}


@pytest.fixture(name="shipped")
def _shipped() -> dict[str, Scenario]:
    scenarios, errors = load_scenarios(SHIPPED_DIR)
    assert errors == []
    return {scenario.slug: scenario for scenario in scenarios}


@pytest.fixture(name="mixed")
def _mixed() -> tuple[list[Scenario], list[ScenarioError]]:
    return load_scenarios(MIXED_DIR)


@pytest.fixture(name="minimal")
def _minimal() -> dict:
    """The smallest valid scenario file, as data to tweak and write."""
    return {
        "id": "minimal",
        "title": "Minimal",
        "description": "Smallest valid scenario.",
        "duration_minutes": 5,
        "bot_messages": [
            {"content": "Hello, I need help.", "expected_keywords": ["help"]},
            {"content": "Thanks.", "expected_keywords": ["welcome"]},
        ],
    }


def write_scenario(folder: Path, data: dict | str, *documents: str) -> Path:
    """Write a scenario file (data or raw text) and the named documents; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    for name in documents:
        (folder / name).write_text(f"# {name}\n", encoding="utf-8")
    return path


def load_errors(path: Path) -> list[ScenarioError]:
    with pytest.raises(ScenarioLoadError) as raised:
        load_scenario(path)
    return raised.value.errors


# --- shipped content ---------------------------------------------------------------------


def test_both_shipped_scenarios_load_without_errors(shipped):
    assert shipped["customer-service"].title == "Customer Service Training"
    assert shipped["technical-support"].title == "Technical Support Training"


@pytest.mark.parametrize("slug", ["customer-service", "technical-support"])
def test_shipped_scenarios_are_complete_training_content(shipped, slug):
    scenario = shipped[slug]
    assert len(scenario.bot_messages) >= 5
    for message in scenario.bot_messages:
        assert 2 <= len(message.expected_keywords) <= 5
        assert all(keyword == keyword.lower() for keyword in message.expected_keywords)
    assert scenario.completion.min_exchanges == 5
    assert scenario.completion.required_keywords
    assert 3 <= len(scenario.rubric) <= 5
    forbidden = [entry for criterion in scenario.rubric for entry in criterion.forbidden]
    assert any(keyword_matches("please calm down", entry) for entry in forbidden)
    assert any(keyword_matches("that is not my problem", entry) for entry in forbidden)
    assert scenario.persona is not None and scenario.persona.mood
    assert scenario.situation and scenario.behaviour and scenario.objectives
    assert scenario.idle_timeout_seconds > 0
    assert len(scenario.documents) == 2
    for document in scenario.documents:
        lines = scenario.document_path(document.filename).read_text(encoding="utf-8").splitlines()
        assert 40 <= len(lines) <= 80


def test_shipped_masking_patterns_catch_the_identifiers_the_customers_mention(shipped):
    customer_service = shipped["customer-service"]
    account = customer_service.masking_patterns[0]
    assert account.name == "ACCOUNT_NUMBER"
    assert first_match(account.regex, customer_service.bot_messages[1].content) == "ACC-204518"

    technical = {pattern.name: pattern.regex for pattern in shipped["technical-support"].masking_patterns}
    assert first_match(technical["TICKET_NUMBER"], shipped["technical-support"].situation) == "TKT-480215"
    pasted_key = shipped["technical-support"].bot_messages[2].content
    assert first_match(technical["API_KEY"], pasted_key).startswith("rp_live_")


def first_match(regex: str, text: str) -> str | None:
    found = re.search(regex, text)
    return found.group(0) if found else None


# --- legacy layout -----------------------------------------------------------------------


def test_original_chattrain_layout_loads_unchanged():
    scenario = load_scenario(LEGACY_FILE)

    assert scenario.slug == "billing_inquiry_v1"
    assert scenario.duration_minutes == 15
    assert scenario.opening_line.startswith("Hello, there is a charge of 24.99")
    assert scenario.bot_messages[1].expected_keywords == ("add-on", "cancel", "refund")
    assert scenario.llm_config.model == "gpt-4o-mini"
    assert scenario.llm_config.temperature == 0.6
    assert scenario.llm_config.max_tokens == 180
    assert scenario.documents[0].title == "Billing FAQ"
    assert scenario.completion.min_exchanges == 3
    assert scenario.completion.required_keywords == ("refund", "cancel")


def test_legacy_layout_gets_defaults_for_the_training_additions():
    scenario = load_scenario(LEGACY_FILE)

    assert scenario.persona is None
    assert scenario.situation == "" and scenario.behaviour == ""
    assert scenario.objectives == () and scenario.rubric == () and scenario.masking_patterns == ()
    assert scenario.per_reply_feedback is True
    assert scenario.idle_timeout_seconds == 900
    assert scenario.extensions == {}


# --- broken files next to good ones ------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "field", "reason"),
    [
        ("b_unknown_key", "behavior", "unknown field (did you mean 'behaviour'?)"),
        ("b_unknown_key", "bot_messages[0].hint", "unknown field"),
        ("c_missing_field", "bot_messages[1].content", "field required"),
        ("d_bad_regex", "masking.patterns[0].regex", "invalid regular expression"),
        ("e_doc_outside", "documents[0].filename", "must be a plain file name inside the scenario folder"),
        ("f_doc_missing", "documents[0].filename", "'missing.md' not found"),
        ("g_yaml_syntax", "(root)", "invalid YAML at line 8, column 1"),
        ("h_duplicate_slug", "id", "duplicate slug 'good-one'"),
    ],
)
def test_broken_file_is_reported_with_file_field_and_reason(mixed, folder, field, reason):
    _, errors = mixed
    matching = [error for error in errors if Path(error.file).parent.name == folder and error.field == field]
    assert len(matching) == 1, errors
    assert reason in matching[0].reason


def test_good_scenarios_load_next_to_broken_ones(mixed):
    scenarios, errors = mixed

    assert [scenario.slug for scenario in scenarios] == ["good-one", "yml-suffix"]
    assert len(errors) == 8


def test_duplicate_slug_keeps_the_first_folder_in_name_order(mixed):
    scenarios, _ = mixed

    assert scenarios[0].folder.name == "a_good"


def test_folder_without_scenario_file_is_skipped_silently(mixed):
    _, errors = mixed

    assert not any("j_no_scenario_file" in error.file for error in errors)


def test_yaml_syntax_error_tells_where_the_construct_started():
    errors = load_errors(MIXED_DIR / "g_yaml_syntax" / "scenario.yaml")

    assert "flow sequence that starts at line 7" in errors[0].reason


def test_scenario_error_reads_file_field_reason():
    error = ScenarioError("scenarios/x/scenario.yaml", "bot_messages[2].content", "field required")

    assert str(error) == "scenarios/x/scenario.yaml: bot_messages[2].content: field required"


def test_load_error_lists_every_problem_of_the_file():
    errors = load_errors(MIXED_DIR / "b_unknown_key" / "scenario.yaml")

    assert {error.field for error in errors} == {"behavior", "bot_messages[0].hint"}
    assert all(error.file.endswith("b_unknown_key/scenario.yaml") for error in errors)


def test_error_file_is_shown_relative_to_the_working_directory(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)

    errors = load_errors(MIXED_DIR / "c_missing_field" / "scenario.yaml")

    assert errors[0].file == "tests/data/scenarios/mixed/c_missing_field/scenario.yaml"


def test_missing_scenarios_folder_is_one_error(tmp_path):
    scenarios, errors = load_scenarios(tmp_path / "nowhere")

    assert scenarios == []
    assert errors[0].reason == "scenarios folder not found"


def test_folder_with_both_yaml_and_yml_uses_yaml_and_reports_yml(tmp_path, minimal):
    write_scenario(tmp_path / "one", minimal)
    (tmp_path / "one" / "scenario.yml").write_text(yaml.safe_dump({**minimal, "id": "other"}), encoding="utf-8")

    scenarios, errors = load_scenarios(tmp_path)

    assert [scenario.slug for scenario in scenarios] == ["minimal"]
    assert errors[0].file.endswith("scenario.yml")


# --- field rules -------------------------------------------------------------------------


def test_minimal_file_gets_a_completion_of_one_exchange_per_scripted_turn(tmp_path, minimal):
    scenario = load_scenario(write_scenario(tmp_path / "s", minimal))

    assert scenario.completion.min_exchanges == 2
    assert scenario.completion.required_keywords == ()
    assert scenario.llm_config.model is None


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"duration_minutes": 0}, "duration_minutes", "greater than 0"),
        ({"duration_minutes": "30"}, "duration_minutes", "valid integer"),
        ({"duration_minutes": True}, "duration_minutes", "valid integer"),
        ({"id": "Has Spaces"}, "id", "not a valid slug"),
        ({"bot_messages": []}, "bot_messages", "opening line"),
        ({"idle_timeout_seconds": -1}, "idle_timeout_seconds", "greater than 0"),
        ({"feedback": {"per_reply": "no"}}, "feedback.per_reply", "valid boolean"),
        ({"llm_config": {"temperature": 3}}, "llm_config.temperature", "less than or equal to 2"),
        ({"objectives": [{"a": "b"}]}, "objectives[0]", "got a mapping"),
        ({"rubric": [{"name": "E", "weight": 0}]}, "rubric[0].weight", "greater than 0"),
        ({"rubric": [{"name": "E", "patterns": ["(unclosed"]}]}, "rubric[0].patterns[0]", "invalid regular expression"),
        ({"rubric": [{"name": "E", "patterns": ["x*"]}]}, "rubric[0].patterns[0]", "matches the empty string"),
        ({"rubric": [{"name": "E"}, {"name": "e"}]}, "rubric[1].name", "duplicate name"),
        (
            {"completion": {"min_exchanges": 1, "required_keywords": ["a||b"]}},
            "completion.required_keywords[0]",
            "empty alternative",
        ),
        (
            {"masking": {"patterns": [{"name": "policy", "regex": "P-\\d+"}]}},
            "masking.patterns[0].name",
            "UPPER_SNAKE_CASE",
        ),
        (
            {"masking": {"patterns": [{"name": "P", "regex": "a"}, {"name": "P", "regex": "b"}]}},
            "masking.patterns[1].name",
            "duplicate name",
        ),
        ({"persona": {"mood": "angry"}}, "persona.name", "field required"),
        ({"extensions": ["not", "a", "mapping"]}, "extensions", "expected a mapping (got a list)"),
    ],
)
def test_invalid_field_is_reported_with_its_path(tmp_path, minimal, change, field, reason):
    errors = load_errors(write_scenario(tmp_path / "s", {**minimal, **change}))

    assert [error.field for error in errors] == [field], errors
    assert reason in errors[0].reason


@pytest.mark.parametrize("filename", ["/etc/passwd", "../secret.md", "sub/doc.md", "..", "C:\\doc.md"])
def test_document_name_that_is_not_a_plain_file_name_is_refused(tmp_path, minimal, filename):
    data = {**minimal, "documents": [{"filename": filename, "title": "Doc"}]}

    errors = load_errors(write_scenario(tmp_path / "s", data))

    assert errors[0].field == "documents[0].filename"


def test_document_symlink_leading_outside_the_folder_is_refused(tmp_path, minimal):
    (tmp_path / "outside.md").write_text("secret", encoding="utf-8")
    path = write_scenario(tmp_path / "s", {**minimal, "documents": [{"filename": "doc.md", "title": "Doc"}]})
    (tmp_path / "s" / "doc.md").symlink_to(tmp_path / "outside.md")

    errors = load_errors(path)

    assert errors[0].field == "documents[0].filename"
    assert "outside the scenario folder" in errors[0].reason


def test_x_keys_and_extensions_mapping_are_kept(tmp_path, minimal):
    text = yaml.safe_dump({**minimal, "x-author": "training team", "extensions": {"level": 2}})
    text += "x-reviewed: 2024-05-01\n"

    scenario = load_scenario(write_scenario(tmp_path / "s", text))

    assert scenario.extensions == {"level": 2, "x-author": "training team", "x-reviewed": "2024-05-01"}
    json.dumps(scenario.config_json())


def test_x_key_below_the_top_level_is_an_unknown_field(tmp_path, minimal):
    data = {**minimal, "bot_messages": [{"content": "Hi", "x-note": "why"}]}

    errors = load_errors(write_scenario(tmp_path / "s", data))

    assert errors[0].field == "bot_messages[0].x-note"
    assert errors[0].reason == "unknown field"


def test_extension_given_twice_is_an_error(tmp_path, minimal):
    data = {**minimal, "x-team": "a", "extensions": {"x-team": "b"}}

    errors = load_errors(write_scenario(tmp_path / "s", data))

    assert errors[0].field == "x-team"


@pytest.mark.parametrize(("text", "reason"), [("", "file is empty"), ("- a\n- b\n", "got a list")])
def test_file_that_is_not_a_mapping_is_an_error(tmp_path, text, reason):
    errors = load_errors(write_scenario(tmp_path / "s", text))

    assert errors[0].field == "(root)"
    assert reason in errors[0].reason


def test_keywords_with_flexible_spacing_load_as_written(tmp_path, minimal):
    data = {**minimal, "completion": {"min_exchanges": 1, "required_keywords": ["follow up|check in"]}}

    scenario = load_scenario(write_scenario(tmp_path / "s", data))

    assert scenario.completion.required_keywords == ("follow up|check in",)


# --- model behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["customer-service", "technical-support"])
def test_public_view_gives_no_answers_away(shipped, slug):
    scenario = shipped[slug]

    view = scenario.public_view()
    dumped = json.dumps(view)

    assert set(view) == PUBLIC_KEYS
    assert set(view["persona"]) <= {"name", "mood", "role", "company"}
    for secret_key in ("expected_keywords", "required_keywords", "rubric", "situation", "behaviour"):
        assert f'"{secret_key}":' not in dumped
    assert scenario.situation not in dumped and scenario.behaviour not in dumped
    for message in scenario.bot_messages[1:]:
        assert message.content not in dumped
    for criterion in scenario.rubric:
        assert criterion.description not in dumped
    keyword_lists = [message.expected_keywords for message in scenario.bot_messages]
    keyword_lists.append(scenario.completion.required_keywords)
    for keyword in (keyword for keywords in keyword_lists for keyword in keywords if "|" in keyword):
        assert keyword not in dumped


def test_document_path_resolves_declared_documents_inside_the_folder(shipped):
    scenario = shipped["customer-service"]

    path = scenario.document_path("account_access_guide.md")

    assert path is not None and path.parent == scenario.folder.resolve()
    assert scenario.document("account_access_guide.md").title == "Account Access & Password Reset Guide"


@pytest.mark.parametrize(
    "filename",
    ["scenario.yaml", "../technical-support/webhook_troubleshooting.md", "..", "", "missing.md"],
)
def test_document_path_refuses_undeclared_or_escaping_names(shipped, filename):
    assert shipped["customer-service"].document_path(filename) is None


def test_document_path_refuses_absolute_paths(shipped):
    scenario = shipped["customer-service"]
    absolute = str(scenario.folder.resolve() / "account_access_guide.md")

    assert scenario.document(absolute) is None
    assert scenario.document_path(absolute) is None


def test_config_json_is_json_and_rebuilds_the_scenario(shipped):
    scenario = shipped["technical-support"]

    config = json.loads(json.dumps(scenario.config_json()))

    assert "folder" not in config
    assert Scenario.model_validate({**config, "folder": scenario.folder}) == scenario


def test_opening_line_is_the_first_scripted_message(shipped):
    scenario = shipped["technical-support"]

    assert scenario.opening_line == scenario.bot_messages[0].content


def test_scenario_is_immutable(shipped):
    with pytest.raises(ValidationError):
        shipped["customer-service"].title = "Changed"


# --- keyword matching --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keyword", "expected"),
    [
        ("I'm so SORRY about this", "sorry", True),
        ("Please accept my apologies", "sorry|apologies", True),
        ("That was helpful", "help", False),
        ("I can help.", "help", True),
        ("I'll follow-up tomorrow", "follow up", True),
        ("I'll follow\n  up tomorrow", "follow up", True),
        ("Please don\u2019t share it", "don't share", True),
        ("Written in C++ today", "c++", True),
        ("5-10 business days", "business days", True),
        ("anything", "", False),
    ],
)
def test_keyword_matching_is_case_insensitive_whole_word_with_alternatives(text, keyword, expected):
    assert keyword_matches(text, keyword) is expected


def test_a_point_or_pitfall_in_plain_words_gets_its_criterion_coaching_and_praise(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "scenario.yaml").write_text(
        "id: plain\ntitle: Plain\ndescription: Plain words.\nduration_minutes: 5\n"
        "rubric:\n  - name: Care\n  - name: Tone\n"
        "bot_messages:\n"
        "  - content: My parcel is late.\n"
        "    points:\n"
        "      - apologises for the late parcel\n"
        "      - label: tells Sam the parcel arrives tomorrow\n"
        "        criterion: Tone\n"
        "    pitfalls:\n"
        "      - label: blames the courier\n"
        "        severity: rude\n"
        "    examples:\n"
        "      - Sorry it's late; it will be with you tomorrow.\n",
        encoding="utf-8",
    )
    line = load_scenario(folder / "scenario.yaml").bot_messages[0]
    apology, arrival = line.points
    assert (apology.criterion, apology.coach, apology.praise, apology.says) == (
        "Care",
        "Apologise for the late parcel.",
        "You apologised for the late parcel.",
        (),
    )
    assert (arrival.criterion, arrival.coach) == ("Tone", "Tell Sam the parcel arrives tomorrow.")
    assert (line.pitfalls[0].criterion, line.pitfalls[0].coach) == ("Tone", "Do not blame the courier.")
    assert line.examples == ("Sorry it's late; it will be with you tomorrow.",)


def test_more_than_three_examples_on_a_line_is_a_load_error(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "scenario.yaml").write_text(
        "id: many\ntitle: Many\ndescription: Too many examples.\nduration_minutes: 5\n"
        "bot_messages:\n  - content: Hello?\n    examples: [a, b, c, d]\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioLoadError) as error:
        load_scenario(folder / "scenario.yaml")
    assert "bot_messages[0].examples: tuple should have at most 3 items" in str(error.value)
