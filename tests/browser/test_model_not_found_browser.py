"""A model the LLM server does not have (the default name on an Ollama server that has only
llama3.2) reaches the trainee as a sentence saying so, not as "try again in a moment"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import send_line, sign_in
from tests.fakes.fake_openai import FakeOpenAIServer
from tests.support.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(name="ollama_stack")
def _ollama_stack(tmp_path):
    with FakeOpenAIServer(models=["llama3.2"]) as server:
        # CHATTRAIN_LLM_MODEL left at its default, an OpenAI name this server lacks.
        stack = Stack(
            data_dir=tmp_path / "data",
            extra_env={"CHATTRAIN_LLM_PROVIDER": "openai", "CHATTRAIN_LLM_BASE_URL": server.base_url},
        )
        stack.start_all()
        try:
            yield stack
        finally:
            stack.stop_all()


def test_a_missing_model_is_said_plainly_to_the_trainee(ollama_stack, new_page):
    ollama_stack.create_user("trainee", "trainee-no-model")
    page = new_page()
    sign_in(page, ollama_stack, "trainee-no-model")
    page.locator(".card").first.get_by_role("button", name="Start practising").click()
    send_line(page, "Hello, I'm sorry, how can I help?")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The AI model for the customer is not available on the server. Tell your trainer")
    expect(alert.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator(".msg.trainee .text")).to_have_text(["Hello, I'm sorry, how can I help?"])  # kept
    assert "LLM model not found: model='gpt-4o-mini'" in ollama_stack.log_text("worker")
