"""Who a verified ID token names, in ChatTrain's terms: the user id (from the configured
claim), the role (trainer when the role claim holds one of the trainer values), and a
display name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.db.users import USER_ID_PATTERN
from web.oidc_client import OidcConfig, OidcError

MAX_DISPLAY_NAME_CHARS = 200


@dataclass(frozen=True)
class OidcPerson:
    user_id: str
    role: str | None  # None: the provider decides no role (no trainer values configured)
    display_name: str | None


def person_from_claims(claims: dict[str, Any], config: OidcConfig) -> OidcPerson:
    """The person the claims name; OidcError 403 when the user id claim is missing, not a
    valid ChatTrain user id, or an email the provider says is unverified."""
    claim = config.user_id_claim
    user_id = claims.get(claim)
    if not isinstance(user_id, str) or not user_id:
        raise OidcError(
            403,
            "oidc_claim_missing",
            f"The sign-in provider did not say who you are (no {claim!r} in the ID token): ask your administrator.",
        )
    if not USER_ID_PATTERN.fullmatch(user_id):
        raise OidcError(
            403,
            "oidc_user_id_invalid",
            f"The {claim!r} the sign-in provider gave is not a valid ChatTrain user id (1-128 letters, digits or "
            ". _ @ + -, starting with a letter or digit): ask your administrator.",
        )
    # An address anyone may type into their profile proves nothing; a provider that says
    # so (Keycloak without verification) is believed.
    if claim == "email" and claims.get("email_verified") is False:
        raise OidcError(403, "oidc_email_unverified", "The sign-in provider has not verified your email address yet.")
    return OidcPerson(user_id=user_id, role=_role(claims, config), display_name=_display_name(claims))


def _role(claims: dict[str, Any], config: OidcConfig) -> str | None:
    if not config.trainer_values:
        return None
    value = claims.get(config.role_claim)
    values = value if isinstance(value, list) else [value]
    return "trainer" if any(isinstance(v, str) and v in config.trainer_values for v in values) else "trainee"


def _display_name(claims: dict[str, Any]) -> str | None:
    name = claims.get("name")
    if not isinstance(name, str):
        return None
    return name.strip()[:MAX_DISPLAY_NAME_CHARS] or None
