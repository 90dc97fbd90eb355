"""Request bodies are JSON in UTF-8, read strictly.

Quart decodes a body with `bytes.decode()` outside its error handling (bytes that are
not UTF-8 became a 500) and parses it with the standard library, whose recursion on a
body nested a few thousand deep is a RecursionError (another 500). Here the body is
handed to orjson as bytes: it refuses what is not UTF-8, a lone surrogate escape
(`"\\ud800"`, which no UTF-8 text column can store) and nesting deeper than 1024 with a
ValueError, which becomes a 400 `invalid_json`. JSON is UTF-8 by definition (RFC 8259),
so a body that declares another charset is a 415 rather than bytes read under the wrong
encoding."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Request

from web.errors import ApiError

UTF8_NAMES = ("utf-8", "utf8")


class JsonBodyRequest(Request):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            return None
        charset = self.mimetype_params.get("charset")
        if charset is not None and charset.strip().lower() not in UTF8_NAMES:
            if silent:
                return None
            raise ApiError(
                415, "unsupported_media_type", "JSON bodies must be UTF-8; leave out charset or send charset=utf-8."
            )
        data = await self.get_data(cache=cache, as_text=False)
        try:
            result = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if not silent:
                detail = f"The request body is not valid JSON in UTF-8: {error.msg}."
                raise ApiError(400, "invalid_json", detail) from None
            result = None
        if cache:
            self._cached_json[silent] = result
        return result
