"""How masking is applied to a session's text: on or off per deployment, extended by the
scenario's own patterns, with placeholders kept consistent through the session's vault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from shared.masking import PlaceholderVault, find_candidates, mask_candidates


@dataclass(frozen=True)
class MaskingPolicy:
    enabled: bool
    secret: bytes

    def apply(self, text: str, session_data: dict[str, Any], scenario_patterns=(), *, found=None) -> tuple[str, list[dict]]:  # noqa: ANN001
        """Mask `text`, updating the vault kept in `session_data["masking"]` in place.
        Returns the masked text and the findings to store (never the original values)."""
        return self.apply_loading(text, lambda: session_data, scenario_patterns, found=found)

    def find(self, text: str, scenario_patterns=()) -> list:  # noqa: ANN001
        """The personal data in `text` (none when masking is off): the costly half of
        masking, which needs no database, so callers run it before their transaction."""
        if not self.enabled or not text:
            return []
        return find_candidates(text, scenario_patterns)

    def apply_loading(
        self, text: str, load_session_data: Callable[[], dict[str, Any]], scenario_patterns=(), *, found=None  # noqa: ANN001
    ) -> tuple[str, list[dict]]:
        """apply(), reading the session's data only if `text` has something to mask: most
        text has nothing, and the read and the vault's parsing were a tenth of a reply's
        cost in the worker. `found` is find()'s result for `text`, if the caller has it."""
        candidates = self.find(text, scenario_patterns) if found is None else found
        if not candidates:
            return text, []
        session_data = load_session_data()
        vault = PlaceholderVault.from_json(session_data.get("masking"), self.secret)
        result = mask_candidates(text, candidates, vault)
        if result.findings:
            session_data["masking"] = vault.to_json()
        return result.text, [finding.to_json() for finding in result.findings]
