"""The ASGI application Hypercorn serves: `hypercorn web.asgi:app`."""

from shared.settings import load_settings
from web.app import create_app

app = create_app(load_settings())
