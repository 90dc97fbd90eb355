"""A trainee in a real browser (Debian's Chromium) against the real Procfile processes:
signs in by link, practises each shipped scenario with streamed replies and feedback,
reads the documents, survives a dropped connection mid-reply, ends the session and reads
the report; the scenario's fiction is shown as written; another trainee's session stays
closed. Every page is scanned with axe-core."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, send_line, sign_in, sign_in_link
from tests.support.client import bearer_headers

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

LINES = [
    "Hi Jordan, I'm so sorry about this, I understand it is frustrating. I can help with your account and the charge.",
    "Thank you. Let me verify and confirm the account, then we reset the password by email.",
]


def _lines_for(persona_name: str) -> list[str]:
    """The conversation, greeting the scenario's own customer by name (their fiction)."""
    return [LINES[0].replace("Jordan", persona_name.split()[0]), LINES[1]]


def _quoted_from(quote: str, lines: list[str]) -> bool:
    """A report quote is the trainee's own words, perhaps shortened with an ellipsis."""
    parts = [part.strip() for part in re.split(r"\.\.\.|…", quote) if part.strip()]
    return any(all(part in line for part in parts) for line in lines)


def _shipped_scenarios(stack) -> list[dict]:  # noqa: ANN001
    response = httpx.get(f"{stack.base_url}/api/scenarios", headers=bearer_headers(stack.monitor_token), timeout=10)
    response.raise_for_status()
    return response.json()


def test_a_trainee_practises_every_shipped_scenario_from_a_sign_in_link(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    page = new_page()
    sign_in(page, web_stack, trainee)
    assert_accessible(page, "trainee home")
    scenarios = _shipped_scenarios(web_stack)
    assert len(scenarios) >= 2
    for scenario in scenarios:
        page.goto(f"{web_stack.base_url}/#/")
        card = page.locator(f'.card[data-slug="{scenario["slug"]}"]')
        expect(card).to_contain_text(scenario["title"])
        expect(card).to_contain_text(f"{scenario['duration_minutes']} minutes")
        expect(card).to_contain_text(scenario["persona"]["name"])
        for document in scenario["documents"]:
            expect(card).to_contain_text(document["title"])
        card.get_by_role("button", name="Start practising").click()
        expect(page).to_have_url(re.compile(r"#/chat/\d+$"))
        session_id = int(page.url.rsplit("/", 1)[1])
        customer_lines = page.locator(".msg.customer")
        expect(customer_lines).to_have_count(1)  # the opening line

        # A document, rendered from Markdown into page elements beside the chat.
        first_doc = scenario["documents"][0]
        page.get_by_role("button", name=first_doc["title"]).click()
        expect(page.locator("#doc-view h3").first).to_be_visible()
        expect(page.locator("#doc-view li").first).to_be_visible()

        lines = _lines_for(scenario["persona"]["name"])
        for number, text in enumerate(lines, start=1):
            send_line(page, text)
            # The reply streams in: the typing indicator or a partial line shows first.
            expect(page.locator(".msg.customer.streaming, .typing:not([hidden])").first).to_be_visible()
            expect(customer_lines).to_have_count(number + 1)
            expect(page.locator(".msg.customer.streaming")).to_have_count(0)
            mine = page.locator(".msg.trainee").nth(number - 1)
            expect(mine.locator(".text")).to_have_text(text)
            expect(mine.locator(".feedback .score")).to_contain_text(re.compile(r"Score \d+/100"))
        assert_accessible(page, f"chat {scenario['slug']}")

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="End session").click()
        page.get_by_role("link", name="Read the report").click()
        expect(page).to_have_url(re.compile(rf"#/session/{session_id}$"))
        report = page.locator(".report")
        expect(report.locator(".overall")).to_contain_text(re.compile(r"\d+/100"))
        expect(report.locator(".criteria li").first).to_be_visible()
        quotes = report.locator("q").all_text_contents()
        assert quotes and all(_quoted_from(quote, lines) for quote in quotes), quotes
        assert not any("[NAME_" in quote for quote in quotes)  # "Hi Jordan" is quoted as said
        expect(page.locator(".transcript .msg.trainee .feedback").first).to_be_visible()
        assert_accessible(page, f"report {scenario['slug']}")

    # The earlier sessions are listed on the home page, with their scores.
    page.goto(f"{web_stack.base_url}/#/")
    expect(page.locator("table.sessions tbody tr")).to_have_count(len(scenarios))
    expect(page.locator("table.sessions tbody tr").first.get_by_role("link", name="Review")).to_be_visible()


def test_the_scenarios_fiction_is_shown_and_quoted_as_written(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    page = new_page()
    sign_in(page, web_stack, trainee)
    page.locator('.card[data-slug="customer-service"]').get_by_role("button", name="Start practising").click()
    send_line(page, LINES[0])
    second = page.locator(".msg.customer").nth(1)
    expect(second).to_contain_text("jordan.ellis@example.com")
    expect(second).to_contain_text("ACC-204518")
    expect(page.locator(".msg.trainee .text").first).to_have_text(LINES[0])  # "Hi Jordan" kept
    # The trainee's own details are still masked.
    send_line(page, "For the record, my name is Sam Carter and my email is sam.carter@mail.example.")
    expect(page.locator(".msg.customer")).to_have_count(3)
    own = page.locator(".msg.trainee .text").nth(1)
    expect(own).to_contain_text("[EMAIL_1]")  # the line shows as stored, masked
    page.reload()
    expect(own).to_contain_text("[EMAIL_1]")
    expect(own).not_to_contain_text("sam.carter")


def test_a_reply_interrupted_by_a_dropped_connection_arrives_once_after_reconnecting(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    page = new_page()
    sockets = []

    def through_to_server(route):  # noqa: ANN001, ANN202
        sockets.append(route)
        route.connect_to_server()

    page.route_web_socket(re.compile(r"/chat/\d+"), through_to_server)
    sign_in(page, web_stack, trainee)
    page.locator(".card").first.get_by_role("button", name="Start practising").click()
    expect(page.locator("#status")).to_have_text("Connected.")
    send_line(page, LINES[0])
    streaming = page.locator(".msg.customer.streaming .text")
    expect(streaming).to_have_text(re.compile(r"\S"))  # part of the reply is on screen
    partial = streaming.text_content()
    sockets[0].close(code=4000, reason="dropped by the test")  # the page's socket drops
    expect(page.locator("#status")).to_contain_text("Reconnecting")
    expect(page.locator("#status")).to_have_text("Reconnected. The conversation is up to date.")
    customer_lines = page.locator(".msg.customer .text")
    expect(customer_lines).to_have_count(2)
    expect(page.locator(".msg.customer.streaming")).to_have_count(0)
    expect(page.locator(".msg.trainee .feedback")).to_have_count(1)
    reply = customer_lines.nth(1).text_content()
    assert reply.startswith(partial) and len(reply) > len(partial)
    assert len(sockets) == 2 and "after=" in sockets[1].url
    # What the page shows is what was stored: once, whole.
    session_id = page.url.rsplit("/", 1)[1]
    stored = httpx.get(
        f"{web_stack.base_url}/api/sessions/{session_id}", headers=bearer_headers(web_stack.monitor_token), timeout=10
    ).json()["messages"]
    assert [m["content"] for m in stored if m["role"] == "assistant"][1] == reply


def test_a_trainee_cannot_open_another_trainees_session(web_stack, new_page, user_id):
    owner, stranger = user_id("trainee"), user_id("trainee")
    web_stack.create_user("trainee", owner)
    web_stack.create_user("trainee", stranger)
    page = new_page()
    sign_in(page, web_stack, owner)
    page.locator(".card").first.get_by_role("button", name="Start practising").click()
    expect(page).to_have_url(re.compile(r"#/chat/\d+$"))
    session_id = page.url.rsplit("/", 1)[1]
    other = new_page()
    sign_in(other, web_stack, stranger)
    for view in ("chat", "session"):
        other.goto(f"{web_stack.base_url}/#/{view}/{session_id}")
        expect(other.locator("main")).to_have_attribute("data-view", f"#/{view}/{session_id}")
        expect(other.locator("main .error")).to_have_text("That session does not exist, or it is not yours to see.")
        expect(other.locator(".msg")).to_have_count(0)


def test_a_used_link_is_refused_and_sign_out_ends_the_session(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    link = sign_in_link(web_stack, trainee)
    page = new_page()
    page.goto(link)
    expect(page.locator("#who")).to_contain_text(trainee)
    cookie = next(c for c in page.context.cookies() if c["name"] == "chattrain_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # no script can read it
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#status")).to_have_text("You are signed out.")
    page.reload()
    expect(page.locator("main h1")).to_have_text("Sign in")
    assert_accessible(page, "sign-in page")
    again = new_page()
    again.goto(link)
    expect(again.locator("#alert")).to_contain_text("This sign-in link does not work")


def test_keyboard_only_japanese_and_a_phone_screen(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    page = new_page(locale="ja-JP", width=390, height=844)
    sign_in(page, web_stack, trainee)
    expect(page.locator("main h1")).to_have_text("シナリオを選ぶ")
    # Tab to the first scenario's start button and press Enter; type, Ctrl+Enter sends.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "練習を始める":
            break
    page.keyboard.press("Enter")
    expect(page.locator("#composer")).to_be_focused()
    page.keyboard.type("Hello, I'm sorry, I can help with your account.")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".msg.trainee .feedback")).to_be_visible()
    expect(page.locator(".msg.trainee .feedback .score")).to_contain_text("スコア")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    page.select_option("#lang", "en")
    expect(page.locator("label[for=composer]")).to_have_text("Your reply")
    assert_accessible(page, "chat on a phone")
