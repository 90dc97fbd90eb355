"""Fixtures of the browser tests: one real web + worker pair from the Procfile for the
module (replies stream over about two seconds), and Debian's Chromium driven by
Playwright. Every page is watched for script errors and CSP violations."""

from __future__ import annotations

import itertools

import pytest

from tests.browser.support import SLOW_STREAM_ENV, chromium_path
from tests.support.stack import Stack

_user_numbers = itertools.count(1)


@pytest.fixture(name="web_stack", scope="module")
def _web_stack(tmp_path_factory):
    stack = Stack(data_dir=tmp_path_factory.mktemp("browser") / "data", extra_env=SLOW_STREAM_ENV)
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture(name="chromium", scope="module")
def _chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield browser
        finally:
            browser.close()


class PageProblems(list):
    """Script errors and console errors seen on a page (CSP violations show as these)."""


@pytest.fixture(name="new_page")
def _new_page(chromium):
    """new_page(locale="en-GB") -> a page in its own browser context (its own cookies)."""
    contexts = []
    problems = PageProblems()

    def make(locale: str = "en-GB", width: int = 1280, height: int = 900):  # noqa: ANN202
        context = chromium.new_context(locale=locale, viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None
        )
        return page

    make.problems = problems
    yield make
    for context in contexts:
        context.close()
    # A refused resource or an inline script would show here; 401s/404s the page asked
    # for on purpose are console errors too, so only CSP and script errors count.
    serious = [p for p in problems if "Content Security Policy" in p or p.startswith("page error")]
    assert serious == []


@pytest.fixture(name="user_id")
def _user_id():
    """A fresh user id per call: user_id("trainee") -> "trainee-b7"."""
    return lambda role: f"{role}-b{next(_user_numbers)}"
