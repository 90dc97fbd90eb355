"""Issue 17's "done when": `make run` on a fresh data folder prints sign-in links; the
trainee's link lets a person practise a whole scenario in the browser, to its report, and
the trainer's link lets them review it."""

from __future__ import annotations

import contextlib
import queue
import re
import subprocess
import threading

import pytest
from playwright.sync_api import expect

from shared.scenarios import load_scenarios
from tests.browser.support import send_line
from tests.support.stack import REPO_ROOT, free_port, start_make_run, stop_group

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _answers(slug: str) -> list[str]:
    """A reply to each scripted customer line that says what that line expects."""
    scenarios, _ = load_scenarios(REPO_ROOT / "scenarios")
    scenario = next(s for s in scenarios if s.slug == slug)
    required = " ".join(keyword.split("|")[0] for keyword in scenario.completion.required_keywords)
    return [
        "I'm sorry, " + ", ".join(keyword.split("|")[0] for keyword in line.expected_keywords) + f". Also {required}."
        for line in scenario.bot_messages
    ]


def _links(run: subprocess.Popen, timeout: float = 90) -> dict[str, str]:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in iter(run.stdout.readline, "")], daemon=True).start()
    links: dict[str, str] = {}
    seen = []
    while len(links) < 2:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("make run printed no sign-in links:\n" + "".join(seen)) from None
        seen.append(line)
        match = re.match(r"\s+(demo-\w+): (http://\S+#sign-in=\S+)", line)
        if match:
            links[match[1]] = match[2]
    return links


def test_make_run_prints_links_that_let_a_trainee_practise_and_a_trainer_review(tmp_path, new_page):
    data_dir, port = tmp_path / "data", free_port()
    run = start_make_run(data_dir, port, text=True)
    try:
        links = _links(run)
        assert links["demo-trainee"].startswith(f"http://localhost:{port}/#sign-in=")
        page = new_page()
        for _ in range(100):  # the links are printed before the web process listens
            with contextlib.suppress(Exception):
                page.goto(links["demo-trainee"])
                break
            page.wait_for_timeout(200)
        expect(page.locator("#who")).to_contain_text("Demo Trainee")
        page.locator('.card[data-slug="customer-service"]').get_by_role("button", name="Start practising").click()
        answers = _answers("customer-service")
        for number, answer in enumerate(answers, start=1):
            send_line(page, answer)
            expect(page.locator(".msg.trainee .feedback")).to_have_count(number)
        # The script is finished: the session ends by itself and its report is written.
        expect(page.locator(".ended")).to_contain_text("This session has ended.")
        page.get_by_role("link", name="Read the report").click()
        expect(page.locator(".report .overall")).to_contain_text(re.compile(r"\d+/100"))
        session_path = page.url.split("#", 1)[1]

        trainer = new_page()
        trainer.goto(links["demo-trainer"])
        expect(trainer.locator("#who")).to_contain_text("Demo Trainer")
        trainer.locator("table.sessions tbody tr", has_text="demo-trainee").get_by_role("link", name="Review").click()
        expect(trainer).to_have_url(re.compile(re.escape(session_path) + "$"))
        expect(trainer.locator(".transcript .msg.trainee")).to_have_count(len(answers))
        expect(trainer.locator(".report .overall")).to_contain_text(re.compile(r"\d+/100"))
    finally:
        stop_group(run)
