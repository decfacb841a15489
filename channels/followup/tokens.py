"""The personal link's token: derived from a random salt stored on the follow-up, looked up by
its hash.

The token is an HMAC of the follow-up's salt under SECRET_KEY (128 bits, 22 characters: short
enough for the link to fit a one-segment SMS), so the sender can write the same link into every
day's message without the token itself being stored; the database holds the salt and the
token's SHA-256, which is what a link is looked up by (one indexed equality). A new salt
(services.followup_token_issue) makes a new link and stops the old one. This is the one place
that makes or hashes a token; the link itself is built by the channel that sends it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from django.utils.crypto import salted_hmac

TOKEN_BYTES = 16
_KEY_SALT = "madoguchi.followup.link"


def followup_token_salt_new() -> str:
    return secrets.token_hex(16)


def followup_token_for(salt: str) -> str:
    """The link token of a follow-up whose salt is `salt`."""
    digest = salted_hmac(_KEY_SALT, salt, algorithm="sha256").digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def followup_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
