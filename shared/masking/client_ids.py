"""The key a client's `client_message_id` is stored under: a keyed digest, never the id.

The id is a token the client makes up, and a client may make it up from anything, a card
number or a phone number written with dashes included ("4111-1111-1111-1111" is an
opaque token by the protocol's rule). Its only use on the server is to recognise a resend,
so it is kept as HMAC-SHA256 under the masking key: the same id from the same session
gives the same digest, and the digest tells nothing about the id without the key. The
session is mixed in, so one id in two sessions is not linkable either. The echo in
`message_ack` is taken from the frame being answered, never from the database.
"""

from __future__ import annotations

import hashlib
import hmac

# "=" is not a character of a client_message_id (web/client_frames.py), so a stored digest can
# never be mistaken for an id stored as given by an earlier version.
DIGEST_PREFIX = "hmac="
# 128 bits, as the masking vault keeps: two ids of one session never collide.
DIGEST_HEX_CHARS = 32


def client_message_key(secret: bytes, session_id: int, client_message_id: str) -> str:
    """What is stored for `client_message_id` in session `session_id`, and looked up on a
    resend."""
    if not secret:
        raise ValueError("the client_message_id digest needs a key: it would be unkeyed")
    mac = hmac.new(bytes(secret), f"client_message_id\x1f{session_id}\x1f{client_message_id}".encode(), hashlib.sha256)
    return DIGEST_PREFIX + mac.hexdigest()[:DIGEST_HEX_CHARS]
