"""A sign-in link opened in a browser already signed in as someone else asks before
switching: otherwise anyone could send a signed-in person a link to the sender's own
account and have them practise, and type, as the sender without noticing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, sign_in, sign_in_link

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_another_users_link_asks_before_switching_and_staying_keeps_the_sign_in(web_stack, new_page, user_id):
    victim, sender = user_id("trainee"), user_id("trainee")
    web_stack.create_user("trainee", victim)
    web_stack.create_user("trainee", sender)
    page = new_page()
    sign_in(page, web_stack, victim)
    # The sender's link, opened from a message in a new tab of the same browser.
    tab = page.context.new_page()
    tab.goto(sign_in_link(web_stack, sender))
    question = tab.locator("#main")
    expect(question).to_contain_text(f"You are signed in as {victim}. Sign in as the link's user instead?")
    assert "sign-in=" not in tab.url  # the code is out of the address bar while asking
    expect(tab.locator("#who")).to_contain_text(victim)
    assert_accessible(tab, "sign-in switch question")
    stay = tab.get_by_role("button", name=f"Stay signed in as {victim}")
    expect(stay).to_be_focused()  # the safe answer is the one Enter gives
    stay.click()
    expect(tab.locator("#who")).to_contain_text(victim)
    expect(tab.locator("#status")).to_contain_text("The sign-in link was not used")
    tab.reload()
    expect(tab.locator("#who")).to_contain_text(victim)
    page.reload()
    expect(page.locator("#who")).to_contain_text(victim)


def test_switching_to_the_links_user_after_confirming(web_stack, new_page, user_id):
    first, second = user_id("trainee"), user_id("trainee")
    web_stack.create_user("trainee", first)
    web_stack.create_user("trainee", second)
    page = new_page()
    sign_in(page, web_stack, first)
    page.goto(sign_in_link(web_stack, second))  # the same page: only the fragment changes
    expect(page.locator("#main")).to_contain_text(f"You are signed in as {first}.")
    page.get_by_role("button", name="Sign in as the link's user").click()
    expect(page.locator("#who")).to_contain_text(second)
    page.reload()
    expect(page.locator("#who")).to_contain_text(second)


def test_a_link_in_a_browser_signed_in_nowhere_signs_in_without_asking(web_stack, new_page, user_id):
    trainee = user_id("trainee")
    web_stack.create_user("trainee", trainee)
    page = new_page()
    sign_in(page, web_stack, trainee)  # waits for the signed-in header, no question between
    expect(page.locator("#main")).not_to_contain_text("Sign in as the link's user instead?")
