"""One module per kind of personal data. Each exposes

    detect(text: str, facts: TextFacts | None = None) -> list[Candidate]

where `facts` (shared.masking.prefilter) tells it cheaply whether, and where, to look; a
detector builds its own when called without. BUILT_IN lists them; the order does not
matter because overlaps are resolved afterwards.
"""

from __future__ import annotations

from types import ModuleType

from shared.masking.detectors import (
    account,
    address,
    card,
    card_pieces,
    dob,
    email_address,
    iban,
    ip,
    name,
    phone,
    ssn,
)

BUILT_IN: tuple[ModuleType, ...] = (
    email_address,
    phone,
    card,
    card_pieces,
    iban,
    ssn,
    ip,
    dob,
    address,
    account,
    name,
)
