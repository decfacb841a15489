"""The personal link's token: made with secrets.token_urlsafe and stored only as a hash.

A plain SHA-256 (no key) is enough: the token is 256 random bits, so its hash cannot be
reversed by guessing, and looking a link up is one indexed equality. This is the one place
that hashes a token; the link itself is built by the channel that sends it.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def followup_token_new() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def followup_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
