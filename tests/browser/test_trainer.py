"""A trainer in a real browser: watches a trainee's session live and read-only while the
trainee chats in another browser, then reviews it (transcript with inline feedback, the
report, the Markdown download), filters the session list and reads the statistics."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, send_line, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

LINE = "Hi Jordan, I'm so sorry about this. I can help with your account and the charge."


def test_a_trainer_watches_a_session_live_then_reviews_it(web_stack, new_page, user_id, tmp_path):
    trainee, trainer = user_id("trainee"), user_id("trainer")
    web_stack.create_user("trainee", trainee)
    web_stack.create_user("trainer", trainer)
    learner = new_page()
    sign_in(learner, web_stack, trainee)
    learner.locator('.card[data-slug="customer-service"]').get_by_role("button", name="Start practising").click()
    expect(learner).to_have_url(re.compile(r"#/chat/\d+$"))
    session_id = learner.url.rsplit("/", 1)[1]

    watcher = new_page()
    sign_in(watcher, web_stack, trainer)
    assert_accessible(watcher, "trainer session list")
    row = watcher.locator("table.sessions tbody tr", has_text=f"#{session_id}")
    row.get_by_role("link", name="Watch live").click()
    expect(watcher.locator(".notice")).to_have_text("You are watching this session live, read-only.")
    expect(watcher.locator("#composer")).to_have_count(0)
    expect(watcher.locator(".msg.customer")).to_have_count(1)

    send_line(learner, LINE)
    # The watcher sees the trainee's line, the reply streaming in, and the feedback.
    expect(watcher.locator(".msg.customer.streaming, .typing:not([hidden])").first).to_be_visible()
    expect(watcher.locator(".msg.trainee .text")).to_have_text([LINE])
    expect(watcher.locator(".msg.customer")).to_have_count(2)
    expect(watcher.locator(".msg.trainee .feedback .score")).to_contain_text(re.compile(r"\d+/100"))
    assert_accessible(watcher, "live watch")

    learner.once("dialog", lambda dialog: dialog.accept())
    learner.get_by_role("button", name="End session").click()
    expect(watcher.locator(".ended")).to_contain_text("This session has ended.")

    watcher.get_by_role("link", name="Read the report").click()
    expect(watcher.locator(".report .overall")).to_contain_text(re.compile(r"\d+/100"))
    expect(watcher.locator(".transcript .msg.trainee .feedback")).to_have_count(1)
    expect(watcher.locator(".transcript .msg.trainee .who")).to_have_text(trainee)
    assert_accessible(watcher, "trainer review")
    with watcher.expect_download() as download_info:
        watcher.get_by_role("link", name="Download the transcript (Markdown)").click()
    markdown = tmp_path / "t.md"
    download_info.value.save_as(markdown)
    text = markdown.read_text()
    assert LINE in text and "jordan.ellis@example.com" in text

    # Filters: by trainee, by scenario, by status.
    watcher.get_by_role("link", name="Sessions").click()
    watcher.get_by_label("Trainee id").fill(trainee)
    watcher.get_by_label("Status").select_option("completed")
    watcher.get_by_role("button", name="Show").click()
    expect(watcher).to_have_url(re.compile(r"user_id=" + re.escape(trainee)))
    expect(watcher.locator("main")).to_have_attribute("data-view", re.compile("status=completed"))  # drawn
    expect(watcher.locator("table.sessions tbody tr")).to_have_count(1)
    expect(watcher.locator("table.sessions tbody tr")).to_contain_text(re.compile(r"completed.*\d+", re.S))
    watcher.get_by_label("Status").select_option("active")
    watcher.get_by_role("button", name="Show").click()
    expect(watcher.locator("main")).to_have_attribute("data-view", re.compile("status=active"))
    expect(watcher.locator("main")).to_contain_text("No sessions yet.")

    watcher.get_by_role("link", name="Statistics").click()
    stats_row = watcher.locator("table.stats tbody tr", has_text="Customer Service Training")
    expect(stats_row).to_be_visible()
    expect(stats_row.locator("td").nth(1)).to_have_text(re.compile(r"[1-9]\d*"))
    assert_accessible(watcher, "statistics")


def test_trainee_pages_for_trainers_only_say_so(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    page = new_page()
    sign_in(page, web_stack, trainee)
    page.goto(f"{web_stack.base_url}/#/stats")
    expect(page.locator("main h1")).to_have_text("That page does not exist, or you may not see it.")
    expect(page.get_by_role("link", name="Statistics")).to_have_count(0)
