"""The OpenID Connect relying party: the provider's discovery document and keys, the
authorization URL (code flow with PKCE, state and nonce), the code exchange, and the ID
token's checks. No Quart here: web/blueprints/oidc.py drives it.

Authlib's OAuth 2 pieces build the authorization URL and the PKCE challenge; joserfc
(Authlib's JOSE library) verifies the ID token. HTTP goes through the project's httpx,
not Authlib's httpx integration, which picks its own HTTP stack when one is installed.

The discovery document is cached for DISCOVERY_TTL_SECONDS and fetched on first use, not
at start-up, so a provider that is down does not keep the web process from starting
(sign-in links and tokens still work). The keys are fetched again when a token names a
key id not seen yet (the provider rotated its keys), at most every JWKS_REFETCH_SECONDS."""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from shared.settings import Settings
from web.auth import is_loopback

log = logging.getLogger("chattrain.web")

# Asymmetric algorithms only: an HS256 token would be "signed" with the client secret,
# which is no proof the provider issued it, and "none" is no signature at all.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_TTL_SECONDS = 3600
JWKS_REFETCH_SECONDS = 60
CLOCK_LEEWAY_SECONDS = 60  # clocks of the provider and this server may disagree this much
HTTP_TIMEOUT_SECONDS = 10
CALLBACK_PATH = "/api/oidc/callback"


class OidcError(Exception):
    """A sign-in through the provider that failed: an HTTP status, a machine-readable code
    and a sentence for the person (never a secret, a token or the provider's raw answer)."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    provider_name: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_uri: str
    user_id_claim: str
    role_claim: str
    trainer_values: tuple[str, ...]
    create_users: bool


def _secure_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))


class OidcMisconfigured(RuntimeError):
    """OIDC sign-in is on but its settings cannot work; the message names what to set."""


def oidc_config(settings: Settings) -> OidcConfig | None:
    """The OIDC settings checked and put together, or None when OIDC sign-in is off. A
    half-made configuration is OidcMisconfigured naming what to set, so the web process
    refuses to start rather than offer a sign-in that cannot work."""
    issuer = settings.oidc_issuer_url.strip().rstrip("/")
    if not issuer:
        return None
    problems = []
    if not _secure_or_loopback(issuer):
        problems.append("CHATTRAIN_OIDC_ISSUER_URL must be https (http only on a loopback address)")
    if not settings.oidc_client_id:
        problems.append("CHATTRAIN_OIDC_CLIENT_ID is empty")
    if not settings.public_base_url:
        problems.append("CHATTRAIN_PUBLIC_BASE_URL is empty (the provider sends people back to it)")
    if "openid" not in settings.oidc_scopes.split():
        problems.append("CHATTRAIN_OIDC_SCOPES must include openid")
    secret = settings.oidc_client_secret
    if not secret and settings.oidc_client_secret_file:
        path = Path(settings.oidc_client_secret_file)
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            problems.append(f"CHATTRAIN_OIDC_CLIENT_SECRET_FILE: cannot read {path} ({error.strerror})")
    if problems:
        raise OidcMisconfigured("OpenID Connect sign-in is misconfigured: " + "; ".join(problems) + ".")
    return OidcConfig(
        issuer=issuer,
        provider_name=settings.oidc_provider_name,
        client_id=settings.oidc_client_id,
        client_secret=secret,
        scopes=settings.oidc_scopes,
        redirect_uri=settings.public_base_url.rstrip("/") + CALLBACK_PATH,
        user_id_claim=settings.oidc_user_id_claim,
        role_claim=settings.oidc_role_claim,
        trainer_values=settings.oidc_trainer_values,
        create_users=settings.oidc_create_users,
    )


def _unreachable(what: str, error: Exception) -> OidcError:
    log.warning("OIDC provider: %s failed: %s", what, type(error).__name__)
    return OidcError(
        502, "oidc_provider_unreachable", "The sign-in provider could not be reached just now. Try again in a minute."
    )


class OidcClient:
    """One per web process (on the app): the provider's metadata and keys, cached."""

    def __init__(self, config: OidcConfig, http: httpx.AsyncClient | None = None):
        self.config = config
        self._http = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise _unreachable(what, error) from None
        if not isinstance(body, dict):
            raise _unreachable(what, TypeError("not a JSON object"))
        return body

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, checked: it names this issuer, and its
        endpoints are https (or loopback)."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL_SECONDS:
            return self._metadata
        url = self.config.issuer + "/.well-known/openid-configuration"
        document = await self._get_json(url, "discovery")
        # OpenID Connect Discovery: the document must name the issuer it was fetched for,
        # or a document planted elsewhere could point us at another provider's keys.
        if str(document.get("issuer", "")).rstrip("/") != self.config.issuer:
            log.warning("OIDC discovery: issuer %r is not the configured one", document.get("issuer"))
            raise OidcError(502, "oidc_provider_misconfigured", "The sign-in provider's discovery document is wrong.")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str) or not _secure_or_loopback(document[key]):
                log.warning("OIDC discovery: %s missing or not https", key)
                raise OidcError(
                    502, "oidc_provider_misconfigured", "The sign-in provider's discovery document is wrong."
                )
        self._metadata, self._metadata_at = document, time.monotonic()
        return document

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser: the provider's authorization endpoint asking for a
        code (S256 PKCE challenge of `code_verifier`), bound to `state` and `nonce`."""
        metadata = await self.metadata()
        return prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.config.redirect_uri,
            scope=self.config.scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        """The ID token the provider gives for an authorization code (and the verifier
        whose challenge went with it). A refusal or a broken answer is an OidcError."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": code_verifier,
            "client_id": self.config.client_id,
        }
        auth = (self.config.client_id, self.config.client_secret) if self.config.client_secret else None
        try:
            response = await self._http.post(
                metadata["token_endpoint"], data=form, auth=auth, headers={"Accept": "application/json"}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise _unreachable("code exchange", error) from None
        if not isinstance(body, dict):
            raise _unreachable("code exchange", TypeError("not a JSON object"))
        if response.status_code != 200 or "error" in body:
            error = _error_code(body.get("error"))
            log.warning("OIDC token endpoint refused the code: %s (HTTP %s)", error, response.status_code)
            raise OidcError(
                400, "oidc_code_refused", f"The sign-in provider refused this sign-in ({error}). Sign in again."
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise OidcError(502, "oidc_token_invalid", "The sign-in provider sent no ID token. Sign in again.")
        return id_token

    async def _key_set(self, kid: str | None) -> KeySet:
        stale = self._keys is None or time.monotonic() - self._keys_at >= JWKS_REFETCH_SECONDS
        known = self._keys is not None and (kid is None or any(key.kid == kid for key in self._keys.keys))
        if stale and not known:
            metadata = await self.metadata()
            document = await self._get_json(metadata["jwks_uri"], "JWKS")
            try:
                self._keys = KeySet.import_key_set(document)
            except (JoseError, ValueError, TypeError) as error:
                raise _unreachable("JWKS import", error) from None
            self._keys_at = time.monotonic()
        return self._keys

    async def verified_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once it is shown to be the provider's, for this
        application and this sign-in: signature by one of the provider's published keys
        (asymmetric algorithms only), issuer, audience (and azp when there are several),
        expiry and issue time (CLOCK_LEEWAY_SECONDS of slack), subject, and the nonce."""
        metadata = await self.metadata()
        keys = await self._key_set(_key_id(id_token))
        try:
            token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
            JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"essential": True, "value": metadata["issuer"]},
                aud={"essential": True, "value": self.config.client_id},
                exp={"essential": True},
                iat={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except JoseError as error:
            log.warning("OIDC ID token refused: %s", error.error)
            raise OidcError(
                400, "oidc_token_invalid", f"The sign-in provider's ID token was refused: {_reason(error)}."
            ) from None
        claims = token.claims
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise OidcError(
                400,
                "oidc_token_invalid",
                "The sign-in provider's ID token was refused: it was issued to another party.",
            )
        return claims


def _key_id(id_token: str) -> str | None:
    """The `kid` of a compact JWS's header, unverified (only to pick the key); None when
    there is none or the token cannot be read (the decode then says why)."""
    try:
        header = id_token.split(".", 1)[0]
        value = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, TypeError):
        return None
    kid = value.get("kid") if isinstance(value, dict) else None
    return kid if isinstance(kid, str) else None


def _reason(error: JoseError) -> str:
    if isinstance(error, ExpiredTokenError):
        return "it has expired"
    claim = getattr(error, "claim", None)
    if isinstance(error, MissingClaimError):
        return f"it lacks the claim {claim!r}"
    if isinstance(error, InvalidClaimError):
        return {
            "iss": "it was issued by another provider",
            "aud": "it was issued for another application",
            "nonce": "it belongs to another sign-in (nonce)",
            "iat": "its issue time is in the future",
            "nbf": "it is not valid yet",
        }.get(claim, f"its claim {claim!r} is not valid")
    if error.error in ("bad_signature", "invalid_key_id", "unsupported_algorithm"):
        return "its signature is not one of the provider's published keys"
    return "it is not a readable signed token"


def _error_code(value: object) -> str:
    """An OAuth error code safe to show: the provider's own word when it looks like one
    (RFC 6749 codes are short ASCII words), otherwise a generic one."""
    text = str(value or "")
    return text if 0 < len(text) <= 64 and text.replace("_", "").isalnum() and text.isascii() else "unknown_error"
