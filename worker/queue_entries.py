"""The queue's entries as plain data (JSON), never pickle.

Huey pickles its messages by default, and unpickling runs whatever code the bytes name:
anyone who could push onto the queue's Redis list (or write the queue file) could run
code in a worker, which holds the database URL and the masking key. A ChatTrain job is a
task name and a row id, so JSON carries it whole; an entry that is not such a job is
refused (`RefusedEntry`) and dropped with one log line. Nothing is lost by dropping one:
the database's `reply_jobs` rows are the source of truth, and the sweep enqueues their
jobs again (worker/maintenance.py)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from huey.registry import Message
from huey.serializer import Serializer

# Entries longer than this are not ChatTrain's (a job is about 200 bytes).
MOST_ENTRY_BYTES = 4096
_SCALARS = (int, float, str, bool, type(None))
_TIMES = ("eta", "expires_resolved")


class RefusedEntry(ValueError):
    """A queue entry that is not a ChatTrain job in plain data."""


class PlainDataSerializer(Serializer):
    """Huey's messages as JSON: the task's id and name, its arguments (numbers and
    strings only), and the scheduling fields as numbers or ISO times. No pipelines or
    chords (ChatTrain uses none)."""

    def _serialize(self, message: Message) -> bytes:
        if message.on_complete is not None or message.on_error is not None or message.chord_config is not None:
            raise ValueError("ChatTrain's queue carries single tasks only (no pipelines or chords)")
        fields = message._asdict()
        for name in ("on_complete", "on_error", "chord_config"):
            del fields[name]
        for name in _TIMES:
            if fields[name] is not None:
                fields[name] = fields[name].isoformat()
        if isinstance(fields["expires"], datetime.datetime):
            fields["expires"] = {"at": fields["expires"].isoformat()}
        fields["args"] = list(fields["args"] or ())
        return json.dumps(fields, separators=(",", ":")).encode()

    def _deserialize(self, data: bytes) -> Message:
        if len(data) > MOST_ENTRY_BYTES:
            raise RefusedEntry(f"{len(data)} bytes, more than a job takes")
        try:
            fields = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise RefusedEntry("not JSON (an entry written by another program, or pickled)") from None
        if not isinstance(fields, dict) or set(fields) - set(Message._fields):
            raise RefusedEntry("not a job's fields")
        _check(fields)
        for name in _TIMES:
            if fields.get(name) is not None:
                fields[name] = _time(fields[name])
        if isinstance(fields.get("expires"), dict):
            fields["expires"] = _time(fields["expires"].get("at"))
        fields["args"] = tuple(fields.get("args") or ())
        fields["kwargs"] = fields.get("kwargs") or {}
        return Message(**fields)


def _check(fields: dict[str, Any]) -> None:
    if not isinstance(fields.get("id"), str) or not isinstance(fields.get("name"), str):
        raise RefusedEntry("no task id or name")
    args, kwargs = fields.get("args") or [], fields.get("kwargs") or {}
    if not isinstance(args, list) or not all(isinstance(arg, _SCALARS) for arg in args):
        raise RefusedEntry("arguments other than numbers and strings")
    if not isinstance(kwargs, dict) or not all(isinstance(value, _SCALARS) for value in kwargs.values()):
        raise RefusedEntry("keyword arguments other than numbers and strings")
    for name in ("retries", "retry_delay", "priority", "timeout", "retry_backoff"):
        if not isinstance(fields.get(name), (int, float, type(None))):
            raise RefusedEntry(f"{name} is not a number")


def _time(text: Any) -> datetime.datetime:
    if not isinstance(text, str):
        raise RefusedEntry("a time that is not an ISO string")
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise RefusedEntry("a time that is not an ISO string") from None
