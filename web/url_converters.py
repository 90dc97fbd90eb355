"""Every integer in a URL path names a row: one beyond SQLite's 64-bit range cannot exist,
so the route does not match and the answer is the JSON 404 of any unknown URL (for the
chat socket, at the handshake). Werkzeug's own converter already turns thousands of
digits into a 404 (int() refuses them); the bound covers 2**63 up to there."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from shared.db.schema import MAX_SQLITE_INTEGER


class RowIdConverter(IntegerConverter):
    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_SQLITE_INTEGER)
        super().__init__(map, *args, **kwargs)
