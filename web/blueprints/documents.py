"""Scenario documents a trainee may consult. Only files a scenario declares are served;
anything else is a 404, never a file outside the scenario's folder. Documents follow the
scenarios' visibility: any signed-in user may read a declared document."""

from __future__ import annotations

import mimetypes

from quart import Blueprint, current_app, send_file

from web.auth import require_user
from web.errors import ApiError
from web.openapi import document_content

blueprint = Blueprint("documents", __name__)

mimetypes.add_type("text/markdown", ".md")


@blueprint.get("/api/documents/<scenario_id>/<path:filename>")
@require_user
@document_content(200, "*/*", "The document's file, with the media type of its extension.")
async def get_document(scenario_id: str, filename: str):  # noqa: ANN201
    """Download a document that the scenario declares."""
    found = current_app.catalog.get(scenario_id)
    path = found[1].document_path(filename) if found else None
    if path is None:
        raise ApiError(404, "document_not_found", "No such document for this scenario.")
    mimetype, _ = mimetypes.guess_type(path.name)
    # No charset here: the response adds "; charset=utf-8" to every text/* type itself.
    return await send_file(path, mimetype=mimetype or "application/octet-stream")
