"""How masking is applied to a session's text: on or off per deployment, extended by the
scenario's own patterns, with placeholders kept consistent through the session's vault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.masking import PlaceholderVault, mask_text


@dataclass(frozen=True)
class MaskingPolicy:
    enabled: bool
    secret: bytes

    def apply(self, text: str, session_data: dict[str, Any], scenario_patterns=()) -> tuple[str, list[dict]]:  # noqa: ANN001
        """Mask `text`, updating the vault kept in `session_data["masking"]` in place.
        Returns the masked text and the findings to store (never the original values)."""
        if not self.enabled:
            return text, []
        vault = PlaceholderVault.from_json(session_data.get("masking"), self.secret)
        result = mask_text(text, vault, extra_patterns=scenario_patterns)
        if result.findings:
            session_data["masking"] = vault.to_json()
        return result.text, [finding.to_json() for finding in result.findings]
