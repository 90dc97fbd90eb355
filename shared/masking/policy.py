"""How masking is applied to a session's text: on or off per deployment, extended by the
scenario's own patterns, with placeholders kept consistent through the session's vault."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.masking import PlaceholderVault, find_candidates, mask_candidates
from shared.masking.fiction import without_fiction
from shared.masking.split_cards import find_split_card
from shared.masking.split_values import SplitMatches, find_split_values, may_be_split

if TYPE_CHECKING:
    from shared.settings import Settings


@dataclass(frozen=True)
class MaskedMessage:
    """A trainee message masked, and the session's previous trainee message rewritten
    when a value was split between the two (`previous_text` None: left as stored)."""

    text: str
    findings: list[dict]
    previous_text: str | None = None
    previous_findings: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class MaskingPolicy:
    enabled: bool
    secret: bytes

    def apply(
        self, text: str, session_data: dict[str, Any], scenario_patterns=(), *, found=None
    ) -> tuple[str, list[dict]]:  # noqa: ANN001
        """Mask `text`, updating the vault kept in `session_data["masking"]` in place.
        Returns the masked text and the findings to store (never the original values)."""
        return self.apply_loading(text, lambda: session_data, scenario_patterns, found=found)

    def find(self, text: str, scenario_patterns=()) -> list:  # noqa: ANN001
        """The personal data in `text` (none when masking is off): the costly half of
        masking, which needs no database, so callers run it before their transaction."""
        if not self.enabled or not text:
            return []
        # The scenario's own fiction (its persona, account numbers...) is never masked.
        return without_fiction(find_candidates(text, scenario_patterns), scenario_patterns)

    def apply_loading(
        self,
        text: str,
        load_session_data: Callable[[], dict[str, Any]],
        scenario_patterns=(),
        *,
        found=None,  # noqa: ANN001
    ) -> tuple[str, list[dict]]:
        """apply(), reading the session's data only if `text` has something to mask: most
        text has nothing, and the read and the vault's parsing were a noticeable part of a
        reply's cost in the worker (docs/performance.md, Design measurements). `found` is
        find()'s result for `text`, if the caller has it."""
        candidates = self.find(text, scenario_patterns) if found is None else found
        if not candidates:
            return text, []
        session_data = load_session_data()
        vault = PlaceholderVault.from_json(session_data.get("masking"), self.secret)
        result = mask_candidates(text, candidates, vault)
        if result.findings:
            session_data["masking"] = vault.to_json()
        return result.text, [finding.to_json() for finding in result.findings]

    def apply_after(
        self,
        previous_text: str | None,
        text: str,
        session_data: dict[str, Any],
        scenario_patterns=(),
        *,
        found=None,  # noqa: ANN001
    ) -> MaskedMessage:
        """apply() for a trainee message that follows `previous_text` (the session's
        previous trainee message as stored): a value split between the two gets one
        placeholder in each, so the previous message is rewritten too. So does a card given
        in pieces over the two ("it starts with 4111 1111", then "it ends with 1111 1111")."""
        split = None
        if self.enabled and previous_text and text:
            if may_be_split(previous_text, text):
                split = find_split_values(previous_text, text, scenario_patterns)
            card = find_split_card(previous_text, text)
            if card is not None:
                split = card if split is None else _joined(split, card)
            if split is not None:
                split.in_current[:] = without_fiction(split.in_current, scenario_patterns)
                split.in_previous[:] = without_fiction(split.in_previous, scenario_patterns)
        if split is None or not (split.in_current or split.in_previous):
            return MaskedMessage(*self.apply(text, session_data, scenario_patterns, found=found))
        candidates = [*(self.find(text, scenario_patterns) if found is None else found), *split.in_current]
        vault = PlaceholderVault.from_json(session_data.get("masking"), self.secret)
        for (type_name, key), placeholder in split.adopted.items():
            vault.adopt(type_name, key, placeholder)
        result = mask_candidates(text, candidates, vault)
        previous = mask_candidates(previous_text, split.in_previous, vault)
        session_data["masking"] = vault.to_json()
        return MaskedMessage(
            text=result.text,
            findings=[finding.to_json() for finding in result.findings],
            previous_text=previous.text if previous.findings else None,
            previous_findings=[finding.to_json() for finding in previous.findings],
        )


def masking_policy(settings: Settings) -> MaskingPolicy:
    """The deployment's policy, as both processes build it: on or off by CHATTRAIN_MASKING,
    keyed by the secret key (raises SecretKeyMissing where masking needs one and none is
    set, so that neither process starts)."""
    return MaskingPolicy(enabled=settings.masking == "on", secret=settings.masking_key)


def _joined(split: SplitMatches, card: SplitMatches) -> SplitMatches:
    """Both searches' findings; overlaps are resolved when each message is masked."""
    return SplitMatches(
        in_previous=[*split.in_previous, *card.in_previous],
        in_current=[*split.in_current, *card.in_current],
        adopted=split.adopted,
    )
