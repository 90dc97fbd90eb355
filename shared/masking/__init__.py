"""PII masking for conversation text.

Public API (kept stable for the web and worker):
    vault = PlaceholderVault.from_json(data: dict | None, secret: bytes)
    result = mask_text(text, vault, extra_patterns=())  # -> MaskResult
    # or in two steps, loading the vault only when something was found:
    candidates = find_candidates(text, extra_patterns)
    result = mask_candidates(text, candidates, vault)
    vault.to_json() -> dict   (safe to store: holds no original values)

Detected types: EMAIL, PHONE, CARD, IBAN, SSN, IP, DOB, ADDRESS, ACCOUNT, NAME, plus the
scenario's own pattern types. See README.md in this folder for the rules and limits.
"""

from shared.masking.detectors.scenario import compile_patterns
from shared.masking.masker import find_candidates, mask_candidates, mask_text
from shared.masking.model import Finding, MaskResult
from shared.masking.vault import PlaceholderVault

__all__ = [
    "Finding",
    "MaskResult",
    "PlaceholderVault",
    "compile_patterns",
    "find_candidates",
    "mask_candidates",
    "mask_text",
]
