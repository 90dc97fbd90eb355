"""Errors from the server reach the trainee as plain sentences saying what to do: the
model unavailable (with a Retry button), and a rate limit (with the text given back)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import send_line, sign_in
from tests.support.stack import Stack, free_port

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(name="failing_stack")
def _failing_stack(tmp_path):
    # An OpenAI-compatible provider on a port nobody listens on: every call is refused.
    stack = Stack(
        data_dir=tmp_path / "data",
        extra_env={
            "CHATTRAIN_LLM_PROVIDER": "openai",
            "CHATTRAIN_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
            "CHATTRAIN_LLM_MAX_RETRIES": "0",
            "CHATTRAIN_REPLY_MAX_ATTEMPTS": "1",
            "CHATTRAIN_MESSAGES_PER_WINDOW": "1",
            "CHATTRAIN_MESSAGE_WINDOW_SECONDS": "600",
        },
    )
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


def test_the_model_unavailable_and_a_rate_limit_are_said_plainly(failing_stack, new_page):
    failing_stack.create_user("trainee", "trainee-errors")
    page = new_page()
    sign_in(page, failing_stack, "trainee-errors")
    page.locator(".card").first.get_by_role("button", name="Start practising").click()
    send_line(page, "Hello, I'm sorry, how can I help?")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The customer (the AI model) is unavailable right now. Press Retry in a moment.")
    expect(alert.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator(".msg.trainee .text")).to_have_text(["Hello, I'm sorry, how can I help?"])  # kept

    send_line(page, "Are you still there?")
    expect(alert).to_contain_text("You are sending messages too fast. Wait")
    expect(alert).to_contain_text("seconds and send it again.")
    expect(page.locator("#composer")).to_have_value("Are you still there?")  # given back to resend
    expect(page.locator(".msg.trainee")).to_have_count(1)
