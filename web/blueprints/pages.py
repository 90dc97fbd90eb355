"""The web app: one page at `/` and its files under `/app/`, served from web/app_static/
as they are in the repo (plain ES modules, no build step). The page is public, like any
sign-in page; everything it shows comes from the API, which needs a sign-in.

Its Content-Security-Policy (web/security.py) allows scripts, styles and connections from
this origin only: no inline script, no third-party origin."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, send_from_directory
from quart_schema import hide

blueprint = Blueprint("pages", __name__)

APP_STATIC = Path(__file__).resolve().parents[1] / "app_static"


@blueprint.get("/")
@hide
async def get_app_page():  # noqa: ANN201
    """The web app for trainees and trainers."""
    response = await send_from_directory(APP_STATIC, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/app/<path:asset>")
@hide
async def get_app_asset(asset: str):  # noqa: ANN201
    """A file of the web app (scripts, styles, translations); anything else is a 404."""
    response = await send_from_directory(APP_STATIC, asset)
    response.headers["Cache-Control"] = "no-cache"
    return response
