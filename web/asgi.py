"""The ASGI application Hypercorn serves: `hypercorn web.asgi:app`."""

from shared.lib.backend_urls import BackendUnavailable
from shared.settings import SecretKeyMissing, load_settings
from web.app import create_app
from web.oidc_client import OidcMisconfigured
from web.ws_compression import disable_permessage_deflate

settings = load_settings()
if not settings.ws_compression:
    disable_permessage_deflate()
try:
    app = create_app(settings)
except (BackendUnavailable, SecretKeyMissing, OidcMisconfigured) as error:  # one line, not a traceback
    raise SystemExit(f"chattrain web: {error}") from None
