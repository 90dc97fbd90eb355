"""docs/settings.md is generated from the settings class: it cannot drift."""

from __future__ import annotations

from click.testing import CliRunner

from shared.cli.main import main
from shared.settings import Settings, render_settings_doc
from tests.support.stack import REPO_ROOT

SETTINGS_DOC = REPO_ROOT / "docs" / "settings.md"


def test_docs_settings_md_is_what_the_settings_class_generates():
    assert SETTINGS_DOC.read_text() == render_settings_doc(), (
        "docs/settings.md is out of date: run `chattrain settings-doc > docs/settings.md`"
    )


def test_the_command_prints_the_generated_document():
    result = CliRunner().invoke(main, ["settings-doc"])
    assert result.exit_code == 0, result.output
    assert result.output == render_settings_doc()


def test_every_setting_is_documented_with_a_description():
    text = render_settings_doc()
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"`CHATTRAIN_{name.upper()}`" in text
    assert "(at least 10)" in text  # bounds come from the field's constraints


def test_the_claims_former_setting_name_is_still_read(monkeypatch):
    monkeypatch.setenv("CHATTRAIN_REPLY_LEASE_SECONDS", "7")
    assert Settings().reply_claim_seconds == 7
    monkeypatch.setenv("CHATTRAIN_REPLY_CLAIM_SECONDS", "8")
    assert Settings().reply_claim_seconds == 8  # the current name wins
