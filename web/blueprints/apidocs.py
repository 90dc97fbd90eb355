"""The API's documentation pages: Swagger UI at /docs and ReDoc at /redocs, both reading
/openapi.json, with their scripts and styles served from web/static/apidocs (vendored,
see its README) rather than a CDN. Public, like the document itself."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, send_from_directory, url_for
from quart_schema import hide

blueprint = Blueprint("apidocs", __name__)

ASSETS = Path(__file__).resolve().parent.parent / "static" / "apidocs"
# In the asset URLs, so a browser never runs an old copy after an update.
ASSET_VERSIONS = {"swagger-ui": "5.35.0", "redoc": "2.5.4", "init": "1"}

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ChatTrain API</title>
  <link rel="stylesheet" href="{css}">
</head>
<body data-openapi="{openapi}">
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ChatTrain API</title>
</head>
<body>
  <redoc spec-url="{openapi}"></redoc>
  <script src="{bundle}"></script>
  <noscript>This page needs JavaScript.</noscript>
</body>
</html>
"""


def _asset(filename: str, version: str) -> str:
    return url_for("apidocs.get_asset", asset=filename, v=ASSET_VERSIONS[version])


def _page(html: str) -> Response:
    return Response(html, content_type="text/html; charset=utf-8")


@blueprint.get("/docs")
@hide
async def get_swagger_ui() -> Response:
    """The API's documentation in Swagger UI."""
    return _page(
        SWAGGER_PAGE.format(
            css=_asset("swagger-ui/swagger-ui.css", "swagger-ui"),
            bundle=_asset("swagger-ui/swagger-ui-bundle.js", "swagger-ui"),
            init=_asset("swagger-init.js", "init"),
            openapi=url_for("openapi"),
        )
    )


@blueprint.get("/redocs")
@hide
async def get_redoc() -> Response:
    """The API's documentation in ReDoc."""
    return _page(REDOC_PAGE.format(bundle=_asset("redoc/redoc.standalone.js", "redoc"), openapi=url_for("openapi")))


@blueprint.get("/apidocs/<path:asset>")
@hide
async def get_asset(asset: str) -> Response:
    """A file of the documentation pages (404 for anything not in web/static/apidocs)."""
    # send_from_directory refuses a path that leaves the folder (404).
    response = await send_from_directory(ASSETS, asset)
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response
