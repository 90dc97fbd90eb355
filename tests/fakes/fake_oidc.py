"""A minimal OpenID Connect provider on a loopback address, for tests.

    with FakeOidcProvider(client_id="chattrain", client_secret="s3cret") as provider:
        ... provider.issuer ...

It serves a discovery document, a JWKS holding one RSA key made at start, an authorize
endpoint that signs in `provider.user` (a dict of claims) at once and redirects back with
a code, and a token endpoint that checks the client's secret (HTTP Basic), the redirect
URI and the PKCE verifier before answering with an ID token signed by that key.

To misbehave on purpose, set before the sign-in:
- `provider.token_changes`: claims to change in the ID token (`{"aud": "someone-else"}`;
  a value of None removes the claim);
- `provider.sign_with_stranger = True`: sign with a key the JWKS does not publish (under
  the published key's id);
- `provider.authorize_error = "access_denied"`: send the browser back with that error.

`provider.login_page = True` answers the authorize request with a page whose link
("Continue as <name>") sends the browser back, as a real provider's sign-in form does:
the way back is then a navigation started by the provider's page, another site's.

`provider.token_requests` records each token request's form."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

KEY_ID = "fake-oidc-1"
ID_TOKEN_SECONDS = 300


def s256(verifier: str) -> str:
    """PKCE's S256 challenge of a verifier (RFC 7636), computed here independently."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeOidcProvider:
    def __init__(self, *, client_id: str = "chattrain", client_secret: str = "s3cret", host: str = "127.0.0.1"):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})
        self.user: dict[str, Any] = {"sub": "u-1", "email": "ada@example.com", "name": "Ada Lovelace"}
        self.token_changes: dict[str, Any] = {}
        self.sign_with_stranger = False
        self.authorize_error: str | None = None
        self.login_page = False
        self._pending: dict[str, str] = {}  # a login page's link -> where it sends the browser
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        # Another loopback address (127.0.0.2) is another site to a browser than the app's 127.0.0.1.
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeOidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """(status, where to redirect or why not) for an authorization request."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, "unknown client or response type"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, "PKCE S256 challenge required"
        back = query.get("redirect_uri", "")
        if self.authorize_error:
            return 302, f"{back}?{urlencode({'error': self.authorize_error, 'state': query.get('state', '')})}"
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = {
                "nonce": query.get("nonce"),
                "challenge": query["code_challenge"],
                "redirect_uri": back,
                "claims": dict(self.user),
            }
        return 302, f"{back}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def login_page_for(self, where: str) -> str:
        """A sign-in page whose one link continues to `where`."""
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[ticket] = where
        name = html.escape(str(self.user.get("name") or self.user.get("sub")))
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake provider</title></head>'
            f'<body><main><h1>Fake provider</h1><a href="/continue?ticket={ticket}">Continue as {name}</a>'
            "</main></body></html>"
        )

    def continue_to(self, ticket: str) -> str | None:
        with self._lock:
            return self._pending.pop(ticket, None)

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for a token request."""
        with self._lock:
            self.token_requests.append(form)
            grant = self._codes.pop(form.get("code", ""), None)  # single use
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        if (
            form.get("redirect_uri") != grant["redirect_uri"]
            or s256(form.get("code_verifier", "")) != grant["challenge"]
        ):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
            "nonce": grant["nonce"],
            **grant["claims"],
        }
        for name, value in self.token_changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID}) if self.sign_with_stranger else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, key)
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token}


def _handler_for(provider: FakeOidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, where: str) -> None:
            self.send_response(302)
            self.send_header("Location", where)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _html(self, page: str) -> None:
            data = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, {"keys": [provider.key.as_dict(private=False)]})
            elif url.path == "/authorize":
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                status, where = provider.authorize(query)
                if status != 302:
                    self._json(status, {"error": "invalid_request", "error_description": where})
                elif provider.login_page:
                    self._html(provider.login_page_for(where))
                else:
                    self._redirect(where)
            elif url.path == "/continue":
                where = provider.continue_to(parse_qs(url.query).get("ticket", [""])[0])
                if where:
                    self._redirect(where)
                else:
                    self._json(400, {"error": "unknown ticket"})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                self._json(*provider.token(form, self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

    return Handler
