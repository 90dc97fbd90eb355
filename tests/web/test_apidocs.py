"""/docs and /redocs work without internet access: every script and style they load is
served by the web process from the vendored copies in web/static/apidocs (with their
licences), and their Content Security Policy names no other origin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[2] / "web" / "static" / "apidocs"


@pytest.mark.parametrize("page", ["/docs", "/redocs"])
async def test_a_documentation_page_loads_only_this_servers_files(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    html = await response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert "http:" not in policy and "https:" not in policy and "//" not in policy
    assert "script-src 'self';" in policy  # no inline script either
    assert "<script>" not in html  # every script is a file
    urls = re.findall(r'(?:src|href|spec-url|data-openapi)="([^"]+)"', html)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        if url.startswith("/apidocs/"):
            relative = url.removeprefix("/apidocs/").split("?")[0]
            assert await asset.get_data() == (ASSETS / relative).read_bytes(), url
            assert asset.content_type.split(";")[0] in ("text/javascript", "application/javascript", "text/css"), url


def test_the_vendored_assets_keep_their_licences():
    for folder, licences in {"swagger-ui": ("LICENSE", "NOTICE"), "redoc": ("LICENSE",)}.items():
        for licence in licences:
            assert (ASSETS / folder / licence).read_text().strip(), (folder, licence)
    assert "Apache License" in (ASSETS / "swagger-ui" / "LICENSE").read_text()
    assert "MIT License" in (ASSETS / "redoc" / "LICENSE").read_text()


async def test_only_files_in_the_asset_folder_are_served(client):
    for url in (
        "/apidocs/../blueprints/apidocs.py",
        "/apidocs/%2e%2e/app.py",
        "/apidocs/nope.js",
        "/apidocs//etc/passwd",
    ):
        assert (await client.get(url)).status_code == 404, url
