"""Per-session mapping from values to placeholders, safe to store as JSON.

Values are never stored: each one is reduced to a truncated HMAC-SHA256 under the
deployment's secret. Without the secret the digests cannot be confirmed even by brute
force over small value spaces such as phone numbers, which a plain hash would allow.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from shared.masking.placeholders import format_placeholder, parse_placeholder

VAULT_FORMAT_VERSION = 1
# 128 bits: collisions between two values of one session are out of reach, and the JSON
# stays small.
DIGEST_HEX_CHARS = 32


@dataclass
class PlaceholderVault:
    """Remembers which placeholder each value of a session got.

    Build it with `from_json`, mask with `mask_text`, store `to_json()`.
    """

    secret: bytes = field(repr=False)
    entries: dict[str, str] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _keyed: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, (bytes, bytearray)):
            raise TypeError("vault secret must be bytes")
        if not self.secret:
            raise ValueError("vault secret must not be empty: the digests would be unkeyed")
        # Keyed once; each digest copies it instead of re-deriving the key pads.
        self._keyed = hmac.new(bytes(self.secret), digestmod=hashlib.sha256)
        for digest, placeholder in self.entries.items():
            parsed = parse_placeholder(placeholder)
            if parsed is None or not isinstance(digest, str):
                raise ValueError(f"malformed vault entry for placeholder {placeholder!r}")
            type_name, number = parsed
            self._counters[type_name] = max(self._counters.get(type_name, 0), number)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, secret: bytes) -> PlaceholderVault:
        """Rebuild a vault from `to_json()` output; None or {} gives an empty vault."""
        if not data:
            return cls(secret=bytes(secret))
        version = data.get("version", VAULT_FORMAT_VERSION)
        if version != VAULT_FORMAT_VERSION:
            raise ValueError(f"unsupported vault format version {version!r}")
        entries = data.get("entries", {})
        if not isinstance(entries, dict):
            raise ValueError("vault entries must be an object")
        return cls(secret=bytes(secret), entries=dict(entries))

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable state: keyed digests and placeholders, never values."""
        return {"version": VAULT_FORMAT_VERSION, "entries": dict(self.entries)}

    def digest(self, type_name: str, key: str) -> str:
        """Keyed digest of a normalised value; the type is mixed in so that one string
        found as two types does not share a placeholder."""
        mac = self._keyed.copy()
        mac.update(f"{type_name}\x1f{key}".encode())
        return mac.hexdigest()[:DIGEST_HEX_CHARS]

    def placeholder_for(self, type_name: str, key: str) -> str:
        """Placeholder for this value, allocating the next number on first sight."""
        digest = self.digest(type_name, key)
        placeholder = self.entries.get(digest)
        if placeholder is None:
            number = self._counters.get(type_name, 0) + 1
            self._counters[type_name] = number
            placeholder = format_placeholder(type_name, number)
            self.entries[digest] = placeholder
        return placeholder

    def adopt(self, type_name: str, key: str, placeholder: str) -> None:
        """Give `key` a placeholder this session already uses: the rest of a value whose
        first part was masked in an earlier message shares its placeholder."""
        parsed = parse_placeholder(placeholder)
        if parsed is None or parsed[0] != type_name:
            raise ValueError(f"{placeholder!r} is not a {type_name} placeholder")
        self.entries.setdefault(self.digest(type_name, key), placeholder)
        self._counters[type_name] = max(self._counters.get(type_name, 0), parsed[1])
