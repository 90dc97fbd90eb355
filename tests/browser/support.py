"""What the browser tests share: Debian's Chromium driven by Playwright (Playwright cannot
download its own browsers here, so the system executable is launched), sign-in links made
by the real CLI, and the vendored axe-core scan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.stack import REPO_ROOT, Stack

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# Replies stream over about two seconds, so a test can act in the middle of one.
SLOW_STREAM_ENV = {
    "CHATTRAIN_MOCK_LLM_FIRST_CHUNK_MS": "400",
    "CHATTRAIN_MOCK_LLM_CHUNKS_PER_SECOND": "8",
    "CHATTRAIN_MOCK_LLM_CHUNK_CHARS": "12",
    "CHATTRAIN_STREAM_BATCH_MS": "50",
}


def chromium_path() -> str:
    """Debian's Chromium (`apt-get install chromium`); CHATTRAIN_CHROMIUM overrides."""
    found = os.environ.get("CHATTRAIN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError(
            "The browser tests need Debian's Chromium: apt-get install chromium (make test does it as root)."
        )
    return found


def sign_in_link(stack: Stack, user_id: str) -> str:
    """A sign-in link from the real command line, as a trainer would make one."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "chattrain"),
            "users",
            "sign-in-link",
            user_id,
            "--base-url",
            stack.base_url,
        ],
        cwd=REPO_ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:  # noqa: ANN001
    """Run the vendored axe-core on the page (evaluated by the driver, so the page's CSP,
    which forbids inline script, does not apply) and return the violations of `impacts`."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify(await window.axe.run(document, {resultTypes: ['violations']}))")
    violations = json.loads(result)["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in impacts
    ]


def sign_in(page, stack: Stack, user_id: str) -> None:  # noqa: ANN001
    """Open a fresh sign-in link for the user and wait until the page says who is signed in."""
    from playwright.sync_api import expect

    page.goto(sign_in_link(stack, user_id))
    expect(page.locator("#who")).to_contain_text(user_id)
    assert "sign-in=" not in page.url  # the code is taken out of the address bar


def send_line(page, text: str) -> None:  # noqa: ANN001
    """Type a trainee line and send it with the keyboard (Ctrl+Enter)."""
    page.locator("#composer").fill(text)
    page.locator("#composer").press("Control+Enter")


def assert_accessible(page, where: str) -> None:  # noqa: ANN001
    """No serious or critical axe-core violation on the page. With
    CHATTRAIN_SCREENSHOTS_DIR set (`make screenshots`), also save the page as
    <where>.png there: the README's pictures come from these same checks."""
    violations = axe_violations(page)
    assert violations == [], f"{where}: {json.dumps(violations, indent=1)}"
    folder = os.environ.get("CHATTRAIN_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{where.replace(' ', '-')}.png"), full_page=True)
