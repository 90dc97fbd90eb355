"""/docs and /redocs render in a real browser with the network cut: headless Chromium
against the real web process, every host name but 127.0.0.1 unresolvable and every other
connection sent to a proxy that does not exist. The page's scripts must load, pass its
Content Security Policy, fetch /openapi.json and draw the operations."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(name="web_only")
def _web_only(tmp_path):
    stack = Stack(data_dir=tmp_path / "data")
    try:
        stack.start("web")
        stack.wait_healthy(need_worker=False)
        yield stack
    finally:
        stack.stop_all()


def _rendered_dom(url: str, profile: str) -> str:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        # No calls home of Chromium's own (they would only be refused, slowly).
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",  # loopback bypasses it; anything else fails
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout


# .ci/run installs Debian's chromium, so CI always runs this.
@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium binary (apt-get install chromium)")
@pytest.mark.parametrize(("page", "drawn"), [("/docs", 'class="swagger-ui"'), ("/redocs", "redoc-wrap")])
def test_the_documentation_page_renders_without_internet_access(web_only, tmp_path, page, drawn):
    dom = _rendered_dom(f"{web_only.base_url}{page}", str(tmp_path / "profile"))
    assert drawn in dom, dom[:2000]
    # Drawn from /openapi.json: an operation's summary (post_session's docstring).
    assert "Start a training session" in dom, dom[:2000]
