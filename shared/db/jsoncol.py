"""Compact JSON for the *_json text columns (and the socket's frames, which use the same
form). orjson writes and reads it much faster than the standard library
(docs/performance.md, Design measurements), and every reply stores a few payloads and
every frame sent is one."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (an integer beyond 64 bits, a non-string key)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None, default: Any = None) -> Any:
    if not text:
        return default
    return orjson.loads(text)
