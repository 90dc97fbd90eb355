"""The web app's files: served at / and /app/ from the repo, under a policy that allows
its own files only (no inline script, no other origin); nothing else is reachable."""

from __future__ import annotations

import re

from web.blueprints.pages import APP_STATIC


async def test_the_page_and_its_modules_are_served_with_a_strict_policy(client):
    page = await client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "http" not in policy
    html = await page.get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script
    for src in re.findall(r'(?:src|href)="(/app/[^"]+)"', html):
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert asset.headers["Content-Security-Policy"] == policy
    module = await client.get("/app/main.js")
    assert module.mimetype in ("text/javascript", "application/javascript")


async def test_no_module_builds_html_from_strings():
    for path in APP_STATIC.glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, (path.name, sink)


async def test_files_outside_the_app_folder_are_not_found(client):
    for url in ("/app/../auth.py", "/app/%2e%2e/auth.py", "/app/nothing.js", "/app//etc/passwd", "/app/"):
        response = await client.get(url)
        assert response.status_code == 404, url
